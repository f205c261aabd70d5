//! Presigned URLs: the signature parameters in `X-Amz-*` query parameters.

use std::borrow::Cow;

use http::HeaderMap;

use super::{
    AuthLocation, MAX_EXPIRES_SECONDS, SignedRequest, check_algorithm, credential_slashes,
    header_text,
};
use crate::encoding::decode_text;
use crate::error::{ExpiresProblem, Missing, SigV4Error};
use crate::time::AmzDate;

/// The `X-Amz-*` parameters of a presigned URL, still encoded.
#[derive(Default)]
pub(super) struct QueryFields<'a> {
    algorithm: Option<&'a str>,
    credential: Option<&'a str>,
    date: Option<&'a str>,
    expires: Option<&'a str>,
    signed_headers: Option<&'a str>,
    signature: Option<&'a str>,
    security_token: Option<&'a str>,
}

impl<'a> QueryFields<'a> {
    pub(super) fn scan(query: &'a str) -> Self {
        let mut fields = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some(slot) = fields.slot(&decode_text(name)) {
                slot.get_or_insert(value);
            }
        }
        fields
    }

    /// Whether the query carries a signature at all, rather than being an unsigned request's.
    pub(super) fn names_a_signature(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some()
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<&'a str>> {
        Some(match name {
            "X-Amz-Algorithm" => &mut self.algorithm,
            "X-Amz-Credential" => &mut self.credential,
            "X-Amz-Date" => &mut self.date,
            "X-Amz-Expires" => &mut self.expires,
            "X-Amz-SignedHeaders" => &mut self.signed_headers,
            "X-Amz-Signature" => &mut self.signature,
            "X-Amz-Security-Token" => &mut self.security_token,
            _ => return None,
        })
    }
}

pub(super) fn parse_query<'a>(
    fields: QueryFields<'a>,
    headers: &'a HeaderMap,
) -> Result<SignedRequest<'a>, SigV4Error> {
    let missing = Missing {
        credential: fields.credential.is_none(),
        signature: fields.signature.is_none(),
        signed_headers: fields.signed_headers.is_none(),
        date: fields.date.is_none(),
    };
    let (Some(credential), Some(signature), Some(signed_headers), Some(date)) = (
        fields.credential,
        fields.signature,
        fields.signed_headers,
        fields.date,
    ) else {
        return Err(SigV4Error::IncompleteQuery { missing });
    };

    let date = decode_text(date);
    let time = AmzDate::parse_basic(&date).ok_or_else(|| SigV4Error::MalformedDate {
        value: date.into_owned(),
    })?;
    check_algorithm(&decode_text(fields.algorithm.unwrap_or_default()))?;
    let expires = fields
        .expires
        .map(|raw| parse_expires(&decode_text(raw)))
        .transpose()?;
    let credential = decode_text(credential);
    let slashes = credential_slashes(&credential)?;
    let session_token = match fields.security_token {
        Some(token) => Some(decode_text(token)),
        None => header_text(headers, "x-amz-security-token").map(Cow::Borrowed),
    };
    Ok(SignedRequest {
        location: AuthLocation::Query,
        credential,
        slashes,
        signed_headers: decode_text(signed_headers),
        signature: decode_text(signature),
        time,
        time_text: time.to_basic(),
        session_token,
        expires,
    })
}

fn parse_expires(text: &str) -> Result<u32, SigV4Error> {
    let problem = match text.parse::<i64>() {
        Ok(seconds) if seconds < 0 => ExpiresProblem::Negative,
        Ok(seconds) => match u32::try_from(seconds) {
            Ok(seconds) if seconds <= MAX_EXPIRES_SECONDS => return Ok(seconds),
            _ => ExpiresProblem::OverAWeek,
        },
        Err(_) if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) => {
            ExpiresProblem::OverAWeek
        }
        Err(_) => ExpiresProblem::NotANumber,
    };
    Err(SigV4Error::InvalidExpires { problem })
}
