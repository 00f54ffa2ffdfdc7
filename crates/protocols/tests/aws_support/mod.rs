//! A tiny SigV4 signer for tests only: composes the public signing steps of
//! `waggle_protocols::aws::sigv4` the way botocore's `SigV4Auth` does (sign every header given,
//! names lower-cased and sorted).
#![allow(dead_code, clippy::unwrap_used)]

use waggle_protocols::aws::sigv4::{self, Payload, Request};

pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub amz_date: &'a str,
}

/// An owned request, with helpers to view it as a `sigv4::Request`.
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl OwnedRequest {
    pub fn new(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Self {
        OwnedRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        }
    }

    pub fn header_refs(&self) -> Vec<(&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect()
    }

    /// The `sigv4::Request` view over `headers` (from [`header_refs`]).
    pub fn view<'a>(&'a self, headers: &'a [(&'a [u8], &'a [u8])]) -> Request<'a> {
        Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers,
            payload: Payload::Bytes(&self.body),
        }
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        self.headers
            .push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
    }
}

impl Signer<'_> {
    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            &self.amz_date[..8],
            self.region,
            self.service
        )
    }

    fn signature_hex(&self, req: &OwnedRequest, signed: &[String], presigned: bool) -> String {
        let headers = req.header_refs();
        let view = req.view(&headers);
        let payload_hash = hex::encode(sha256(&req.body));
        let creq = sigv4::canonical_request(&view, signed, &payload_hash, presigned).unwrap();
        let sts = sigv4::string_to_sign(self.amz_date, &self.scope(), &creq);
        let key = sigv4::signing_key(self.secret, &self.amz_date[..8], self.region, self.service);
        hex::encode(sigv4::signature(&key, &sts))
    }

    /// Add `X-Amz-Date` and `Authorization` to `req`, signing every header it has.
    pub fn sign(&self, req: &mut OwnedRequest) {
        req.set_header("X-Amz-Date", self.amz_date);
        let mut signed: Vec<String> = req
            .headers
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase())
            .collect();
        signed.sort();
        signed.dedup();
        let sig = self.signature_hex(req, &signed, false);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={sig}",
            self.access_key_id,
            self.scope(),
            signed.join(";")
        );
        req.set_header("Authorization", &auth);
    }

    /// Presign `req` in the query string (headers signed: `host` only).
    pub fn presign(&self, req: &mut OwnedRequest, expires_secs: u32) {
        let credential = format!("{}/{}", self.access_key_id, self.scope()).replace('/', "%2F");
        let extra = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}&X-Amz-Date={}&X-Amz-Expires={expires_secs}&X-Amz-SignedHeaders=host",
            self.amz_date
        );
        req.query = if req.query.is_empty() {
            extra
        } else {
            format!("{}&{extra}", req.query)
        };
        let sig = self.signature_hex(req, &["host".to_owned()], true);
        req.query = format!("{}&X-Amz-Signature={sig}", req.query);
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
