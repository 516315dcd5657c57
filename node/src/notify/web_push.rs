//! Web Push to browsers: RFC 8291 message encryption and RFC 8292 VAPID signatures from the `web-push` crate,
//! delivered (RFC 8030) with the node's own HTTP client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency, VapidSignature,
    VapidSignatureBuilder, WebPushMessageBuilder,
};

use super::delivery::{classify, retry_after_of, Attempt};
use crate::error::NodeError;
use crate::store::push::PushDevice;

/// How long a push service keeps an undelivered message (the browser may be offline for a weekend).
const TTL_SECS: u32 = 3 * 24 * 3600;
/// How long one VAPID signature is reused (the crate signs for 12 hours).
const SIGNATURE_REUSE: Duration = Duration::from_secs(11 * 3600);
/// One HTTP attempt's deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends Web Push messages signed with this deployment's VAPID key.
pub struct WebPushSender {
    vapid: PartialVapidSignatureBuilder,
    signatures: Mutex<HashMap<String, (VapidSignature, Instant)>>,
    public_key: String,
    subject: String,
    http: reqwest::Client,
}

impl WebPushSender {
    /// A sender from the base64url raw P-256 private key (`SENDJAY_VAPID_PRIVATE_KEY`) and the VAPID subject.
    pub fn new(
        private_key: &str,
        subject: &str,
        http: reqwest::Client,
    ) -> Result<WebPushSender, NodeError> {
        let vapid = VapidSignatureBuilder::from_base64_no_sub(private_key.trim()).map_err(|e| {
            NodeError::Config(format!(
                "SENDJAY_VAPID_PRIVATE_KEY: {e}; give the base64url raw 32-byte P-256 key (`sendjay-node vapid-key` makes one)"
            ))
        })?;
        let public_key =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vapid.get_public_key());
        Ok(WebPushSender {
            vapid,
            signatures: Mutex::new(HashMap::new()),
            public_key,
            subject: subject.to_owned(),
            http,
        })
    }

    /// The VAPID public key browsers subscribe with (base64url of the uncompressed point).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The VAPID signature for a push service origin: signed once and reused until an hour before it expires
    /// (RFC 8292 allows reuse; one ES256 signature per push would cost more than the encryption).
    fn signature_for(
        &self,
        audience: &str,
        info: &SubscriptionInfo,
    ) -> Result<VapidSignature, web_push::WebPushError> {
        let now = Instant::now();
        if let Some((signature, until)) = self
            .signatures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(audience)
        {
            if now < *until {
                return Ok(signature.clone());
            }
        }
        let mut builder = self.vapid.clone().add_sub_info(info);
        builder.add_claim("sub", self.subject.as_str());
        builder.add_claim("aud", audience);
        let signature = builder.build()?;
        // The crate signs for 12 hours; reuse for 11.
        self.signatures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                audience.to_owned(),
                (signature.clone(), now + SIGNATURE_REUSE),
            );
        Ok(signature)
    }

    /// One attempt to deliver `payload` (JSON) to a browser, replacing an undelivered one with the same topic.
    pub async fn send(
        &self,
        device: &PushDevice,
        payload: &[u8],
        topic: &str,
        urgent: bool,
    ) -> Attempt {
        let info = SubscriptionInfo::new(
            device.address.as_str(),
            device.p256dh.as_str(),
            device.auth.as_str(),
        );
        // RFC 8292 §2: `aud` is the endpoint's origin, port included (the crate would leave a port out).
        let Ok(endpoint) = reqwest::Url::parse(&device.address) else {
            return Attempt::Failed("the subscription's endpoint is not a URL".into());
        };
        let audience = endpoint.origin().ascii_serialization();
        let signature = match self.signature_for(&audience, &info) {
            Ok(signature) => signature,
            Err(e) => return Attempt::Failed(format!("VAPID signature: {e}")),
        };
        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_payload(ContentEncoding::Aes128Gcm, payload);
        builder.set_ttl(TTL_SECS);
        builder.set_topic(topic.to_owned());
        builder.set_urgency(if urgent {
            Urgency::High
        } else {
            Urgency::Normal
        });
        builder.set_vapid_signature(signature);
        let message = match builder.build() {
            Ok(message) => message,
            // Keys that do not decode or a payload too large: this subscription cannot be served.
            Err(e) => {
                return Attempt::Failed(format!("could not encrypt for this subscription: {e}"))
            }
        };
        let mut request = self
            .http
            .post(message.endpoint.to_string())
            .timeout(REQUEST_TIMEOUT)
            .header("TTL", message.ttl.to_string());
        if let Some(urgency) = message.urgency {
            request = request.header("Urgency", urgency.to_string());
        }
        if let Some(topic) = message.topic {
            request = request.header("Topic", topic);
        }
        if let Some(payload) = message.payload {
            request = request
                .header("Content-Encoding", payload.content_encoding.to_str())
                .header("Content-Type", "application/octet-stream");
            for (name, value) in payload.crypto_headers {
                request = request.header(name, value);
            }
            request = request.body(payload.content);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after_of(&response);
                let body = response.text().await.unwrap_or_default();
                classify(status, retry_after, &body)
            }
            Err(e) => Attempt::Retry {
                after: None,
                why: format!("push service unreachable: {e}"),
            },
        }
    }
}

/// A new VAPID private key, base64url of the raw 32-byte P-256 scalar (for `sendjay-node vapid-key`).
pub fn new_vapid_key() -> String {
    loop {
        let candidate: [u8; 32] = rand::random();
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(candidate);
        // Not every 32-byte string is a valid scalar (zero, or above the group order): ask the parser.
        if VapidSignatureBuilder::from_base64_no_sub(&encoded).is_ok() {
            return encoded;
        }
    }
}
