//! Short-lived signed download URLs for `<img>` and `<video>`, which cannot send an `Authorization` header.
//!
//! A URL carries the user it was issued to, its expiry and an HMAC-SHA256 over (file, variant, user, expiry)
//! with a key derived from the node's token secret, so every node of the cluster verifies what any node
//! signed. The signature only stands in for the bearer token: membership is still checked on every request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Which object a URL opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The file itself.
    File,
    /// Its thumbnail.
    Thumbnail,
}

impl Variant {
    fn as_str(self) -> &'static str {
        match self {
            Variant::File => "file",
            Variant::Thumbnail => "thumbnail",
        }
    }

    /// The path of this variant of `file_id`.
    pub fn path(self, file_id: &str) -> String {
        match self {
            Variant::File => format!("/v1/files/{file_id}"),
            Variant::Thumbnail => format!("/v1/files/{file_id}/thumbnail"),
        }
    }
}

/// Signs and checks URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The signature does not match (forged or altered).
    Invalid,
    /// The URL is past its expiry.
    Expired,
}

impl UrlSigner {
    /// A signer whose key is derived from the token secret (never the secret itself).
    pub fn new(secret: &[u8]) -> UrlSigner {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"sendjay signed file URL v1");
        UrlSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, file_id: &str, variant: Variant, user: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in [file_id, variant.as_str(), user, &expires.to_string()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The query string (`u`, `exp`, `sig`) that lets `user` open `variant` of `file_id` until `expires`.
    pub fn query(&self, file_id: &str, variant: Variant, user: &str, expires: i64) -> String {
        let sig = hex::encode(
            self.mac(file_id, variant, user, expires)
                .finalize()
                .into_bytes(),
        );
        let user = percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC);
        format!("u={user}&exp={expires}&sig={sig}")
    }

    /// The relative URL (path and query) for `user`.
    pub fn url(&self, file_id: &str, variant: Variant, user: &str, expires: i64) -> String {
        format!(
            "{}?{}",
            variant.path(file_id),
            self.query(file_id, variant, user, expires)
        )
    }

    /// Checks a signature (constant time) and the expiry against `now` (Unix seconds).
    pub fn verify(
        &self,
        file_id: &str,
        variant: Variant,
        user: &str,
        expires: i64,
        sig_hex: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let sig = hex::decode(sig_hex).map_err(|_| SignatureError::Invalid)?;
        self.mac(file_id, variant, user, expires)
            .verify_slice(&sig)
            .map_err(|_| SignatureError::Invalid)?;
        if expires <= now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_file_variant_user_and_time() {
        let signer = UrlSigner::new(b"0123456789abcdef0123456789abcdef");
        let q = signer.query("f1", Variant::File, "alice", 1000);
        let sig = q.rsplit("sig=").next().unwrap();
        assert_eq!(
            signer.verify("f1", Variant::File, "alice", 1000, sig, 999),
            Ok(())
        );
        let invalid = Err(SignatureError::Invalid);
        assert_eq!(
            signer.verify("f2", Variant::File, "alice", 1000, sig, 999),
            invalid
        );
        assert_eq!(
            signer.verify("f1", Variant::Thumbnail, "alice", 1000, sig, 999),
            invalid
        );
        assert_eq!(
            signer.verify("f1", Variant::File, "bob", 1000, sig, 999),
            invalid
        );
        assert_eq!(
            signer.verify("f1", Variant::File, "alice", 2000, sig, 999),
            invalid
        );
        assert_eq!(
            signer.verify("f1", Variant::File, "alice", 1000, "zz", 999),
            invalid
        );
        assert_eq!(
            signer.verify("f1", Variant::File, "alice", 1000, sig, 1000),
            Err(SignatureError::Expired)
        );
        let other = UrlSigner::new(b"another secret of 32 bytes or more!!");
        assert_eq!(
            other.verify("f1", Variant::File, "alice", 1000, sig, 999),
            invalid
        );
    }
}
