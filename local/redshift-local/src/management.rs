//! The Redshift management API's wire protocol (awsQuery, version 2012-12-01) as
//! `aws-sdk-redshift`, boto3 and the AWS CLI speak it: `POST /` with a form body
//! `Action=DescribeClusters&Version=2012-12-01&...`, answered in XML in the namespace
//! `http://redshift.amazonaws.com/doc/2012-12-01/`; errors as
//! `ErrorResponse/Error/{Type,Code,Message}` with ClusterNotFound at 404 and InvalidClusterState
//! at 400 (the service model's status codes). It serves DescribeClusters, PauseCluster and
//! ResumeCluster ([`crate::clusters`]).
//!
//! And one action of the stand-in's own, for tests: `Action=ArmLocalFault&Fault=<JSON>` arms a
//! [`ClusterFault`] (a resize status, a lost answer); the answer is an empty
//! `ArmLocalFaultResponse`, or InvalidParameterValue (400) for a fault it cannot arm. A lost
//! answer is HTTP 500 `InternalFailure` ("The request processing has failed because of an
//! unknown error, exception or failure", the API's common errors:
//! <https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html>), given after the
//! request took effect.

use crate::clusters::{ClusterError, ClusterFault, ClusterView, Clusters};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

const NAMESPACE: &str = "http://redshift.amazonaws.com/doc/2012-12-01/";

/// Refuses a request that is not signed: every AWS caller signs (SigV4, an `Authorization`
/// header), and a page in a browser cannot set that header, so a cross-site form POST cannot pause
/// or resume a cluster here. AWS answers an unsigned request `MissingAuthenticationToken` ("The
/// request must contain either a valid (registered) AWS access key ID or X.509 certificate", the
/// API's common errors), HTTP 403.
pub fn unsigned(headers: &axum::http::HeaderMap) -> Option<Response> {
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    (!signed).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
        )
    })
}

/// Answers one management API request.
pub fn handle(clusters: &Clusters, body: &[u8]) -> Response {
    let form = parse_form(body);
    let action = form.get("Action").map(String::as_str).unwrap_or("");
    let id = form.get("ClusterIdentifier").map(String::as_str);
    let answer = match (action, id) {
        ("DescribeClusters", id) => clusters.describe(id).map(|views| {
            let members: String = views.iter().map(cluster_xml).collect();
            format!("<Clusters>{members}</Clusters>")
        }),
        ("PauseCluster" | "ResumeCluster", None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "MissingParameter",
                "The request must contain the parameter ClusterIdentifier.",
            );
        }
        ("PauseCluster", Some(id)) => clusters.pause(id).map(|view| cluster_xml(&view)),
        ("ResumeCluster", Some(id)) => clusters.resume(id).map(|view| cluster_xml(&view)),
        ("ArmLocalFault", _) => {
            let fault = form.get("Fault").map(String::as_str).unwrap_or("");
            match serde_json::from_str::<ClusterFault>(fault) {
                Ok(fault) => clusters.arm(fault).map(|()| String::new()),
                Err(err) => Err(ClusterError::InvalidParameter(format!(
                    "Fault is not a cluster fault: {err}"
                ))),
            }
        }
        (other, _) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                &format!("The action {other} is not valid for this web service."),
            );
        }
    };
    if answer.is_ok() && clusters.answer_lost(action) {
        return xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Receiver</Type>\
                 <Code>InternalFailure</Code><Message>The request processing has failed because \
                 of an unknown error, exception or failure.</Message></Error>\
                 <RequestId>{}</RequestId></ErrorResponse>",
                uuid::Uuid::new_v4()
            ),
        );
    }
    match answer {
        Ok(result) => xml(
            StatusCode::OK,
            format!(
                "<{action}Response xmlns=\"{NAMESPACE}\"><{action}Result>{result}</{action}Result>\
                 <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
                uuid::Uuid::new_v4()
            ),
        ),
        Err(ClusterError::NotFound(message)) => {
            error(StatusCode::NOT_FOUND, "ClusterNotFound", &message)
        }
        Err(ClusterError::InvalidState(message)) => {
            error(StatusCode::BAD_REQUEST, "InvalidClusterState", &message)
        }
        Err(ClusterError::InvalidParameter(message)) => {
            error(StatusCode::BAD_REQUEST, "InvalidParameterValue", &message)
        }
    }
}

fn cluster_xml(view: &ClusterView) -> String {
    let roles: String = view
        .iam_roles
        .iter()
        .map(|arn| {
            format!(
                "<ClusterIamRole><IamRoleArn>{}</IamRoleArn><ApplyStatus>in-sync</ApplyStatus></ClusterIamRole>",
                escape(arn)
            )
        })
        .collect();
    format!(
        "<Cluster><ClusterIdentifier>{id}</ClusterIdentifier><NodeType>{node_type}</NodeType>\
         <ClusterStatus>{status}</ClusterStatus>\
         <ClusterAvailabilityStatus>{availability}</ClusterAvailabilityStatus>\
         <DBName>{database}</DBName>\
         <Endpoint><Address>{id}.local</Address><Port>5439</Port></Endpoint>\
         <NumberOfNodes>{nodes}</NumberOfNodes><IamRoles>{roles}</IamRoles></Cluster>",
        id = escape(&view.identifier),
        node_type = escape(&view.node_type),
        status = view.status,
        availability = view.availability,
        database = escape(&view.database),
        nodes = view.nodes,
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(message),
            uuid::Uuid::new_v4()
        ),
    )
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte.
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                        Some(byte) => {
                            out.push(byte);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                byte => out.push(byte),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Whether a request is for this API rather than the Data API: a form body and no
/// `X-Amz-Target` (the Data API's JSON protocol names its operation there).
pub fn is_management_request(headers: &axum::http::HeaderMap) -> bool {
    headers.get("x-amz-target").is_none()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_body_decodes_plus_and_percent_escapes() {
        let form = parse_form(b"Action=DescribeClusters&ClusterIdentifier=my%2Dcluster&X=a+b&Y=%");
        assert_eq!(form["Action"], "DescribeClusters");
        assert_eq!(form["ClusterIdentifier"], "my-cluster");
        assert_eq!(form["X"], "a b");
        assert_eq!(form["Y"], "%");
    }
}
