// A loopback push service for sendjay's push notification tests, started by testkit/src/push.rs:
//
//   * a Web Push service (RFC 8030 delivery, RFC 8291 aes128gcm message encryption, RFC 8292 VAPID): it hands
//     out subscriptions whose keys it holds, checks every push like a real push service does and DECRYPTS it
//     with Martin Thomson's `http_ece` (npm), an implementation independent of the Rust crates the server uses;
//   * an FCM HTTP v1 endpoint: a Google-style service account, the OAuth 2 JWT-bearer token endpoint and
//     projects/<p>/messages:send with FCM's validation and error shapes.
//
// Tests read back what arrived (and every refused attempt) and script failures (429 with Retry-After, 503, a
// subscription gone, an unregistered device). Everything lives in memory; one process per test.
//
// Usage: node service.mjs [PORT]   (PORT, or env PUSH_PORT, default 0 = any free port). Once listening it
// prints `sendjay-push listening on http://127.0.0.1:PORT`, writes PORT to $PUSH_PORT_FILE when that is set
// (write to a temporary name, then rename) and answers GET /health with 200.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ece = require('http_ece');

/** RFC 8030 §7.2: a push service must accept at least 4096 bytes of (encrypted) payload; we accept no more. */
const MAX_PUSH_BODY = 4096;
/** Any request body beyond this is refused before parsing. */
const MAX_BODY = 1 << 20;
/** RFC 8292 §2: `exp` no more than 24 hours after the request. A minute of clock skew is allowed. */
const MAX_VAPID_LIFETIME_S = 24 * 3600;
const SKEW_S = 60;
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const FCM_PROJECT = 'sendjay-test';
const FCM_CLIENT_EMAIL = 'push@sendjay-test.iam.gserviceaccount.com';
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);

const portArg = process.argv[2] ?? process.env.PUSH_PORT ?? '0';
const requestedPort = Number.parseInt(portArg, 10);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`bad port ${JSON.stringify(portArg)}: pass a TCP port (or 0) as the first argument`);
  process.exit(2);
}
let origin = ''; // http://127.0.0.1:PORT, set once listening

// ---- state -------------------------------------------------------------------------------------------------

/** id -> {id, ecdh, auth, applicationServerKey, gone, script: [], received: [], attempts: []} */
const subscriptions = new Map();
let messageSeq = 0;

const fcm = {
  account: null, // {json, publicKey, privateKeyId}
  tokens: new Map(), // access token -> expiry (ms)
  grants: 0,
  refusedGrants: 0,
  messages: [],
  attempts: [],
  devices: new Map(), // device token -> {unregistered, script: []}
};

// ---- helpers -----------------------------------------------------------------------------------------------

const nowMs = () => Date.now();
const nowS = () => Math.floor(Date.now() / 1000);
const b64u = (buf) => Buffer.from(buf).toString('base64url');

/** Strict base64url (no padding) decoding; null for anything else. */
function fromB64u(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  return Buffer.from(text, 'base64url');
}

function send(res, status, body, headers = {}) {
  const isJson = typeof body !== 'string';
  const text = isJson ? JSON.stringify(body) : body;
  res.writeHead(status, {
    'Content-Type': isJson ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(buf) {
  try {
    return { value: JSON.parse(buf.toString('utf8')) };
  } catch (e) {
    return { error: `the body is not JSON: ${e.message}` };
  }
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits a compact JWS into its parts; throws with a reason. */
function splitJwt(jwt) {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error('the JWT does not have three dot-separated parts');
  const [h, p, s] = parts;
  const header = JSON.parse(fromB64u(h)?.toString('utf8') ?? 'null');
  const claims = JSON.parse(fromB64u(p)?.toString('utf8') ?? 'null');
  const signature = fromB64u(s);
  if (!isObject(header) || !isObject(claims) || signature === null) {
    throw new Error('the JWT header, claims or signature is not base64url JSON');
  }
  return { header, claims, signature, signingInput: Buffer.from(`${h}.${p}`, 'ascii') };
}

/** The body of `POST .../script`: a list of {status, retry_after?}; throws with a reason. */
function parseScript(buf) {
  const { value, error } = parseJson(buf);
  if (error) throw new Error(error);
  if (!isObject(value) || !Array.isArray(value.responses)) {
    throw new Error('expected {"responses": [{"status": 429, "retry_after": 2}, ...]}');
  }
  return value.responses.map((r, i) => {
    if (!isObject(r) || !Number.isInteger(r.status) || r.status < 100 || r.status > 599) {
      throw new Error(`responses[${i}]: expected {"status": <100..599>, "retry_after"?: <seconds>}`);
    }
    if (r.retry_after !== undefined && r.retry_after !== null &&
        (!Number.isInteger(r.retry_after) || r.retry_after < 0)) {
      throw new Error(`responses[${i}].retry_after: expected a non-negative integer of seconds`);
    }
    return { status: r.status, retry_after: r.retry_after ?? null };
  });
}

const retryAfterHeader = (scripted) =>
  scripted.retry_after === null ? {} : { 'Retry-After': String(scripted.retry_after) };

// ---- Web Push ----------------------------------------------------------------------------------------------

function createSubscription(buf) {
  let applicationServerKey = null;
  if (buf.length > 0) {
    const { value, error } = parseJson(buf);
    if (error) return { status: 400, body: { error } };
    if (isObject(value) && value.application_server_key !== undefined) {
      const key = fromB64u(value.application_server_key);
      if (!key || key.length !== 65 || key[0] !== 4) {
        return { status: 400, body: { error: 'application_server_key: expected base64url of a 65-byte uncompressed P-256 point' } };
      }
      applicationServerKey = b64u(key);
    }
  }
  const id = crypto.randomBytes(12).toString('hex');
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = crypto.randomBytes(16);
  subscriptions.set(id, { id, ecdh, auth, applicationServerKey, gone: false, script: [], received: [], attempts: [] });
  return {
    status: 201,
    body: { id, endpoint: `${origin}/wp/${id}`, p256dh: b64u(ecdh.getPublicKey(null, 'uncompressed')), auth: b64u(auth) },
  };
}

/** RFC 8292 §3: `Authorization: vapid t=<JWT>, k=<key>`. Returns {sub, key} or throws {status, reason}. */
function checkVapid(header, sub) {
  const refuse = (status, reason) => {
    throw Object.assign(new Error(reason), { status });
  };
  if (!header) refuse(401, 'no Authorization header (RFC 8292: `Authorization: vapid t=<JWT>, k=<key>`)');
  const m = /^vapid\s+(.*)$/is.exec(header.trim());
  if (!m) refuse(401, `Authorization scheme is not "vapid" (RFC 8292 §3): ${header.slice(0, 40)}`);
  const params = {};
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  if (!params.t || !params.k) refuse(401, 'the vapid Authorization lacks t= (the JWT) or k= (the public key)');
  const rawKey = fromB64u(params.k);
  if (!rawKey || rawKey.length !== 65 || rawKey[0] !== 4) {
    refuse(403, 'k= is not base64url (no padding) of a 65-byte uncompressed P-256 public key');
  }
  if (sub.applicationServerKey && sub.applicationServerKey !== b64u(rawKey)) {
    refuse(403, 'k= is not the application server key this subscription was created with');
  }
  let jwt;
  try {
    jwt = splitJwt(params.t);
  } catch (e) {
    refuse(403, `malformed VAPID JWT: ${e.message}`);
  }
  if (jwt.header.alg !== 'ES256') refuse(403, `VAPID JWT alg is ${JSON.stringify(jwt.header.alg)}, not "ES256"`);
  let publicKey;
  try {
    publicKey = crypto.createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64u(rawKey.subarray(1, 33)), y: b64u(rawKey.subarray(33, 65)) },
      format: 'jwk',
    });
  } catch (e) {
    refuse(403, `k= is not a point on P-256: ${e.message}`);
  }
  const valid = jwt.signature.length === 64 &&
    crypto.verify('sha256', jwt.signingInput, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jwt.signature);
  if (!valid) refuse(403, 'the VAPID JWT signature does not verify with k= (ES256, JOSE r||s)');
  const { aud, exp, sub: subject } = jwt.claims;
  if (aud !== origin) {
    refuse(403, `VAPID aud ${JSON.stringify(aud)} is not the endpoint's origin ${JSON.stringify(origin)} ` +
      '(RFC 8292 §2; the origin includes a non-default port)');
  }
  const now = nowS();
  if (!Number.isInteger(exp)) refuse(403, 'VAPID exp is missing or not an integer');
  if (exp <= now) refuse(403, `VAPID exp ${exp} is not in the future (now ${now})`);
  if (exp > now + MAX_VAPID_LIFETIME_S + SKEW_S) refuse(403, `VAPID exp ${exp} is more than 24 hours ahead (now ${now})`);
  if (typeof subject !== 'string' || !(subject.startsWith('mailto:') || subject.startsWith('https:'))) {
    refuse(403, `VAPID sub ${JSON.stringify(subject)} is neither a mailto: nor an https: URI`);
  }
  return { sub: subject, key: b64u(rawKey) };
}

/**
 * A push to a subscription, checked in this order: unknown 404, gone 410, headers and VAPID (400/401/403/413),
 * then a scripted response if one is queued, then decryption (400) and delivery (201).
 */
function pushMessage(sub, req, body) {
  const attempt = (status, reason, extra = {}) => {
    const entry = { at_ms: nowMs(), status, ...(reason ? { reason } : {}), ...extra };
    sub.attempts.push(entry);
    return entry;
  };
  if (sub.gone) {
    attempt(410, 'the subscription is gone (POST /subscriptions/<id>/gone)');
    return { status: 410, body: 'subscription gone' };
  }
  const bad = (status, reason) => {
    attempt(status, reason);
    return { status, body: reason };
  };
  const encoding = req.headers['content-encoding'];
  if (encoding !== 'aes128gcm') return bad(400, `Content-Encoding is ${JSON.stringify(encoding ?? null)}, not "aes128gcm" (RFC 8291)`);
  const ttlText = req.headers.ttl;
  if (ttlText === undefined) return bad(400, 'no TTL header (RFC 8030 §5.2)');
  if (!/^\d+$/.test(ttlText.trim())) return bad(400, `TTL ${JSON.stringify(ttlText)} is not a non-negative integer`);
  const ttl = Number.parseInt(ttlText, 10);
  const urgency = req.headers.urgency ?? null;
  if (urgency !== null && !URGENCIES.has(urgency)) return bad(400, `Urgency ${JSON.stringify(urgency)} is not very-low, low, normal or high (RFC 8030 §5.3)`);
  const topic = req.headers.topic ?? null;
  if (topic !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return bad(400, `Topic ${JSON.stringify(topic)} is not 1-32 base64url characters (RFC 8030 §5.4)`);
  let vapid;
  try {
    vapid = checkVapid(req.headers.authorization, sub);
  } catch (e) {
    if (!e.status) throw e;
    return bad(e.status, e.message);
  }
  if (body.length > MAX_PUSH_BODY) return bad(413, `the body is ${body.length} bytes, over ${MAX_PUSH_BODY} (RFC 8030 §7.2)`);
  const scripted = sub.script.shift();
  if (scripted) {
    attempt(scripted.status, 'scripted', { retry_after: scripted.retry_after });
    return { status: scripted.status, body: 'scripted response', headers: retryAfterHeader(scripted) };
  }
  let plaintext;
  try {
    plaintext = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth });
  } catch (e) {
    return bad(400, `cannot decrypt the aes128gcm body (RFC 8291) with this subscription's keys: ${e.message}`);
  }
  const record = {
    at_ms: nowMs(),
    status: 201,
    topic,
    urgency,
    ttl,
    vapid_sub: vapid.sub,
    vapid_key: vapid.key,
    payload: plaintext.toString('utf8'),
  };
  attempt(201);
  sub.received.push(record);
  messageSeq += 1;
  return { status: 201, body: '', headers: { Location: `${origin}/m/${sub.id}-${messageSeq}` } };
}

// ---- FCM HTTP v1 -------------------------------------------------------------------------------------------

function fcmSetup() {
  if (!fcm.account) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyId = crypto.randomBytes(20).toString('hex');
    fcm.account = {
      publicKey,
      privateKeyId,
      json: {
        type: 'service_account',
        project_id: FCM_PROJECT,
        private_key_id: privateKeyId,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        client_email: FCM_CLIENT_EMAIL,
        client_id: String(100000000000000000000n + BigInt(crypto.randomInt(1, 2 ** 47))),
        token_uri: `${origin}/fcm/token`,
      },
    };
  }
  return { status: 200, body: fcm.account.json };
}

/** The OAuth 2 JWT-bearer grant (RFC 7523) as Google's token endpoint does it. */
function fcmToken(req, buf) {
  const refuse = (description) => {
    fcm.refusedGrants += 1;
    return { status: 400, body: { error: 'invalid_grant', error_description: description } };
  };
  if (!fcm.account) return refuse('no service account yet: POST /fcm/setup first');
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
  if (type !== 'application/x-www-form-urlencoded') return refuse(`Content-Type is ${JSON.stringify(type)}, not application/x-www-form-urlencoded`);
  const form = new URLSearchParams(buf.toString('utf8'));
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    return refuse(`grant_type ${JSON.stringify(form.get('grant_type'))} is not urn:ietf:params:oauth:grant-type:jwt-bearer`);
  }
  const assertion = form.get('assertion');
  if (!assertion) return refuse('no assertion');
  let jwt;
  try {
    jwt = splitJwt(assertion);
  } catch (e) {
    return refuse(`malformed assertion: ${e.message}`);
  }
  if (jwt.header.alg !== 'RS256') return refuse(`assertion alg is ${JSON.stringify(jwt.header.alg)}, not "RS256"`);
  if (jwt.header.kid !== undefined && jwt.header.kid !== fcm.account.privateKeyId) {
    return refuse('assertion kid is not the service account\'s private_key_id');
  }
  if (!crypto.verify('sha256', jwt.signingInput, fcm.account.publicKey, jwt.signature)) {
    return refuse('Invalid JWT Signature.');
  }
  const { iss, aud, scope, iat, exp } = jwt.claims;
  const tokenUri = fcm.account.json.token_uri;
  if (iss !== FCM_CLIENT_EMAIL) return refuse(`iss ${JSON.stringify(iss)} is not the client_email ${FCM_CLIENT_EMAIL}`);
  if (aud !== tokenUri) return refuse(`aud ${JSON.stringify(aud)} is not the token_uri ${tokenUri}`);
  if (typeof scope !== 'string' || !scope.split(/\s+/).includes(FCM_SCOPE)) {
    return refuse(`scope ${JSON.stringify(scope)} does not contain ${FCM_SCOPE}`);
  }
  const now = nowS();
  if (!Number.isInteger(iat) || !Number.isInteger(exp)) return refuse('iat and exp must be integers (seconds)');
  if (iat > now + SKEW_S) return refuse(`iat ${iat} is in the future (now ${now})`);
  if (exp <= now) return refuse(`Invalid JWT: Token must be a short-lived token (exp ${exp} is not after now ${now})`);
  if (exp - iat > 3600) return refuse(`Invalid JWT: Token must be a short-lived token (60 minutes): exp - iat = ${exp - iat}`);
  const accessToken = `ya29.sendjay-test.${crypto.randomBytes(24).toString('base64url')}`;
  fcm.tokens.set(accessToken, nowMs() + 3600 * 1000);
  fcm.grants += 1;
  return { status: 200, body: { access_token: accessToken, expires_in: 3600, token_type: 'Bearer' } };
}

const FCM_STATUS = {
  400: ['INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
  401: ['UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR'],
  403: ['PERMISSION_DENIED', 'SENDER_ID_MISMATCH'],
  404: ['NOT_FOUND', 'UNREGISTERED'],
  429: ['RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'],
  500: ['INTERNAL', 'INTERNAL'],
  503: ['UNAVAILABLE', 'UNAVAILABLE'],
};

function fcmError(code, message, extraDetails = []) {
  const [status, errorCode] = FCM_STATUS[code] ?? ['UNKNOWN', 'UNSPECIFIED_ERROR'];
  return {
    error: {
      code,
      message,
      status,
      details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }, ...extraDetails],
    },
  };
}

/** FCM's validation of a send request (the parts sendjay uses); returns a reason or null. */
function validateFcmBody(body) {
  const unknown = (obj, allowed, path) => {
    const extra = Object.keys(obj).find((k) => !allowed.includes(k));
    return extra === undefined ? null : `Invalid JSON payload received. Unknown name "${extra}" at '${path}': Cannot find field.`;
  };
  if (!isObject(body)) return 'the body is not a JSON object';
  const top = unknown(body, ['message', 'validate_only'], '');
  if (top) return top;
  const msg = body.message;
  if (!isObject(msg)) return "Invalid value at 'message': expected an object";
  const m = unknown(msg, ['token', 'data', 'notification', 'android'], 'message');
  if (m) return m;
  if (typeof msg.token !== 'string' || msg.token === '') return "Invalid value at 'message.token': a non-empty string is required";
  if (msg.data !== undefined) {
    if (!isObject(msg.data)) return "Invalid value at 'message.data': expected an object of string values";
    for (const [i, [k, v]] of Object.entries(msg.data).entries()) {
      if (typeof v !== 'string') return `Invalid value at 'message.data[${i}].value' (TYPE_STRING), ${JSON.stringify(v)}`;
      if (['from', 'notification', 'message_type'].includes(k) || k.startsWith('google') || k.startsWith('gcm')) {
        return `Invalid data payload key: ${k}`;
      }
    }
  }
  if (msg.notification !== undefined) {
    if (!isObject(msg.notification)) return "Invalid value at 'message.notification': expected an object";
    const n = unknown(msg.notification, ['title', 'body'], 'message.notification');
    if (n) return n;
    for (const k of ['title', 'body']) {
      if (msg.notification[k] !== undefined && typeof msg.notification[k] !== 'string') {
        return `Invalid value at 'message.notification.${k}' (TYPE_STRING), ${JSON.stringify(msg.notification[k])}`;
      }
    }
  }
  if (msg.android !== undefined) {
    const a = msg.android;
    if (!isObject(a)) return "Invalid value at 'message.android': expected an object";
    const n = unknown(a, ['collapse_key', 'priority', 'ttl'], 'message.android');
    if (n) return n;
    if (a.collapse_key !== undefined && typeof a.collapse_key !== 'string') {
      return `Invalid value at 'message.android.collapse_key' (TYPE_STRING), ${JSON.stringify(a.collapse_key)}`;
    }
    if (a.priority !== undefined && !['HIGH', 'NORMAL', 'high', 'normal'].includes(a.priority)) {
      return `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), ${JSON.stringify(a.priority)}`;
    }
    if (a.ttl !== undefined && (typeof a.ttl !== 'string' || !/^\d+(\.\d{1,9})?s$/.test(a.ttl))) {
      return `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(a.ttl)}`;
    }
  }
  return null;
}

function fcmDevice(token) {
  let device = fcm.devices.get(token);
  if (!device) {
    device = { unregistered: false, script: [] };
    fcm.devices.set(token, device);
  }
  return device;
}

/**
 * messages:send, checked in this order: bearer token 401, project 404, body 400, unregistered device 404,
 * then a scripted response if one is queued for the device, then delivery (200).
 */
function fcmSend(project, req, buf) {
  const attempt = (status, token, reason) => {
    fcm.attempts.push({ at_ms: nowMs(), status, token, ...(reason ? { reason } : {}) });
  };
  const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  const expiry = auth ? fcm.tokens.get(auth[1]) : undefined;
  if (expiry === undefined || expiry <= nowMs()) {
    const reason = !auth ? 'no `Authorization: Bearer <token>`' : expiry === undefined ? 'unknown access token' : 'expired access token';
    attempt(401, null, reason);
    return {
      status: 401,
      body: {
        error: {
          code: 401,
          message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          status: 'UNAUTHENTICATED',
        },
      },
      headers: { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' },
    };
  }
  if (project !== FCM_PROJECT) {
    attempt(404, null, `unknown project ${project}`);
    return { status: 404, body: fcmError(404, `Requested entity was not found: project ${project}`) };
  }
  const { value, error } = parseJson(buf);
  const reason = error ?? validateFcmBody(value);
  const token = typeof value?.message?.token === 'string' ? value.message.token : null;
  if (reason) {
    attempt(400, token, reason);
    return {
      status: 400,
      body: {
        error: {
          code: 400,
          message: reason,
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ description: reason }] }],
        },
      },
    };
  }
  const device = fcmDevice(token);
  if (device.unregistered) {
    attempt(404, token, 'unregistered (POST /fcm/devices/<token>/unregister)');
    return { status: 404, body: fcmError(404, 'Requested entity was not found.') };
  }
  const scripted = device.script.shift();
  if (scripted) {
    attempt(scripted.status, token, 'scripted');
    return {
      status: scripted.status,
      body: fcmError(scripted.status, `scripted response ${scripted.status}`),
      headers: retryAfterHeader(scripted),
    };
  }
  attempt(200, token);
  messageSeq += 1;
  const name = `projects/${project}/messages/${messageSeq}`;
  if (value.validate_only !== true) fcm.messages.push({ at_ms: nowMs(), token, message: value.message, name });
  return { status: 200, body: { name } };
}

// ---- routing -----------------------------------------------------------------------------------------------

async function route(req, url, body) {
  const { method } = req;
  const path = url.pathname;
  let m;
  if (method === 'GET' && path === '/health') return { status: 200, body: { ok: true } };

  // Web Push
  if (method === 'POST' && path === '/subscriptions') return createSubscription(body);
  if ((m = /^\/wp\/([^/]+)$/.exec(path)) && method === 'POST') {
    const sub = subscriptions.get(m[1]);
    return sub ? pushMessage(sub, req, body) : { status: 404, body: 'no such subscription' };
  }
  if ((m = /^\/subscriptions\/([^/]+)\/(script|gone|received|attempts)$/.exec(path))) {
    const sub = subscriptions.get(m[1]);
    if (!sub) return { status: 404, body: { error: `no subscription ${m[1]}` } };
    const what = m[2];
    if (method === 'POST' && what === 'script') {
      try {
        sub.script.push(...parseScript(body));
      } catch (e) {
        return { status: 400, body: { error: e.message } };
      }
      return { status: 200, body: { queued: sub.script.length } };
    }
    if (method === 'POST' && what === 'gone') {
      sub.gone = true;
      return { status: 200, body: { gone: true } };
    }
    if (method === 'GET' && what === 'received') return { status: 200, body: sub.received };
    if (method === 'GET' && what === 'attempts') return { status: 200, body: sub.attempts };
  }

  // FCM HTTP v1
  if (method === 'POST' && path === '/fcm/setup') return fcmSetup();
  if (method === 'POST' && path === '/fcm/token') return fcmToken(req, body);
  if ((m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path)) && method === 'POST') {
    return fcmSend(decodeURIComponent(m[1]), req, body);
  }
  if ((m = /^\/fcm\/devices\/([^/]+)\/(unregister|script)$/.exec(path)) && method === 'POST') {
    const device = fcmDevice(decodeURIComponent(m[1]));
    if (m[2] === 'unregister') {
      device.unregistered = true;
      return { status: 200, body: { unregistered: true } };
    }
    try {
      device.script.push(...parseScript(body));
    } catch (e) {
      return { status: 400, body: { error: e.message } };
    }
    return { status: 200, body: { queued: device.script.length } };
  }
  if (method === 'GET' && path === '/fcm/messages') return { status: 200, body: fcm.messages };
  if (method === 'GET' && path === '/fcm/grants') return { status: 200, body: { count: fcm.grants, refused: fcm.refusedGrants } };
  if (method === 'GET' && path === '/fcm/attempts') return { status: 200, body: fcm.attempts };

  return { status: 404, body: { error: `no route ${method} ${path}` } };
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, origin || 'http://127.0.0.1');
    const body = await readBody(req);
    const out = await route(req, url, body);
    send(res, out.status, out.body, out.headers);
  } catch (e) {
    console.error(`${req.method} ${req.url}: ${e.stack ?? e}`);
    if (!res.headersSent) send(res, 500, { error: String(e.message ?? e) });
  }
});

server.listen(requestedPort, '127.0.0.1', () => {
  const { port } = server.address();
  origin = `http://127.0.0.1:${port}`;
  if (process.env.PUSH_PORT_FILE) {
    const tmp = `${process.env.PUSH_PORT_FILE}.tmp`;
    fs.writeFileSync(tmp, String(port));
    fs.renameSync(tmp, process.env.PUSH_PORT_FILE);
  }
  console.log(`sendjay-push listening on ${origin}`);
});
