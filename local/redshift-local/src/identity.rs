//! Who a Data API request signs in as, by Redshift's rules, and running its SQL as that user.
//!
//! The Data API maps the caller to a database user 1:1: with the caller's IAM identity (no
//! `DbUser`, no `SecretArn`) an IAM role `R` signs in as `IAMR:R` and an IAM user `U` as `IAM:U`;
//! `DbUser` signs in as that user; `SecretArn` as the user the secret holds. Here the caller is the
//! request's SigV4 access key ID:
//!
//! | access key ID | signs in as |
//! |---|---|
//! | `role:NAME` | `IAMR:NAME` |
//! | `user:NAME` | `IAM:NAME` |
//! | anything else | the warehouse's admin, a superuser (plain SDK, CLI and boto3 use) |
//!
//! `DbUser` and `SecretArn` win over the access key, as on AWS. A user signing in for the first
//! time is created with no privileges beyond PUBLIC's, as Redshift creates it, and every statement
//! runs under `SET ROLE` to that user, so PostgreSQL itself enforces ownership and GRANTs (SET ROLE
//! rather than SET SESSION AUTHORIZATION: the embedded server cannot reset the latter, and the
//! stand-in refuses SET and RESET statements, so no user can leave its role):
//! "only a superuser or the owner of an object can query, modify, or grant permissions on the
//! object" (Redshift, Default database user permissions).

use std::collections::HashMap;

/// The database user a statement runs as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DbUser {
    /// The warehouse's admin: the superuser the stand-in connects as.
    #[default]
    Admin,
    /// A regular user, created at first sign-in.
    User(String),
}

impl DbUser {
    /// The name the API echoes as `DbUser` where AWS does (None for the admin).
    pub fn name(&self) -> Option<&str> {
        match self {
            DbUser::Admin => None,
            DbUser::User(name) => Some(name),
        }
    }
}

/// The access key ID of a SigV4 `Authorization` header (`... Credential=AKID/date/region/...`).
pub fn access_key_id(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    credential.split('/').next().filter(|id| !id.is_empty())
}

/// The region a SigV4 `Authorization` header was signed for.
pub fn signing_region(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    credential.split('/').nth(2).filter(|r| !r.is_empty())
}

/// Why a request cannot sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// `SecretArn` names a secret the stand-in was not told about (`--secret ARN=USER`).
    UnknownSecret(String),
}

/// The database user a request signs in as: `DbUser`, else the user of `SecretArn` (looked up in
/// `secrets`, ARN → user), else the caller's IAM identity from its access key ID.
pub fn sign_in(
    access_key: Option<&str>,
    db_user: Option<&str>,
    secret_arn: Option<&str>,
    secrets: &HashMap<String, String>,
) -> Result<DbUser, SignInError> {
    if let Some(user) = db_user {
        return Ok(DbUser::User(user.to_owned()));
    }
    if let Some(arn) = secret_arn {
        return secrets
            .get(arn)
            .map(|user| DbUser::User(user.clone()))
            .ok_or_else(|| SignInError::UnknownSecret(arn.to_owned()));
    }
    Ok(match access_key {
        Some(key) if key.starts_with("role:") && key.len() > 5 => {
            DbUser::User(format!("IAMR:{}", &key[5..]))
        }
        Some(key) if key.starts_with("user:") && key.len() > 5 => {
            DbUser::User(format!("IAM:{}", &key[5..]))
        }
        _ => DbUser::Admin,
    })
}

/// `"name"`, quotes doubled: a user name as a PostgreSQL identifier.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Makes the session run as `user` from here on: creates the user at its first sign-in (with
/// PUBLIC's privileges only), then `SET ROLE`. The admin resets to the connection's own superuser.
pub async fn become_user(client: &tokio_postgres::Client, user: &DbUser) -> Result<(), String> {
    let sql = match user {
        DbUser::Admin => "RESET ROLE".to_owned(),
        DbUser::User(name) => {
            let literal = format!("'{}'", name.replace('\'', "''"));
            // Two connections signing the same new user in at once: one creates it, the other
            // finds it created.
            format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal}) THEN \
                 CREATE ROLE {role} LOGIN; END IF; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
                 SET ROLE {role}",
                role = quoted(name)
            )
        }
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(|err| crate::backend::error_text(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_key_id_is_the_callers_iam_identity() {
        let header = "AWS4-HMAC-SHA256 Credential=role:EtlFunctionsRole/20261201/us-west-2/redshift-data/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(access_key_id(header), Some("role:EtlFunctionsRole"));
        assert_eq!(signing_region(header), Some("us-west-2"));
        let none = HashMap::new();
        let as_role = sign_in(access_key_id(header), None, None, &none).unwrap();
        assert_eq!(as_role, DbUser::User("IAMR:EtlFunctionsRole".into()));
        assert_eq!(
            sign_in(Some("user:ana"), None, None, &none).unwrap(),
            DbUser::User("IAM:ana".into())
        );
        assert_eq!(
            sign_in(Some("AKIDEXAMPLE"), None, None, &none).unwrap(),
            DbUser::Admin
        );
        assert_eq!(sign_in(None, None, None, &none).unwrap(), DbUser::Admin);
    }

    #[test]
    fn db_user_and_secrets_win_over_the_access_key() {
        let secrets = HashMap::from([("arn:s".to_owned(), "loader".to_owned())]);
        assert_eq!(
            sign_in(Some("role:r"), Some("etl"), None, &secrets).unwrap(),
            DbUser::User("etl".into())
        );
        assert_eq!(
            sign_in(Some("role:r"), None, Some("arn:s"), &secrets).unwrap(),
            DbUser::User("loader".into())
        );
        assert_eq!(
            sign_in(None, None, Some("arn:other"), &secrets),
            Err(SignInError::UnknownSecret("arn:other".into()))
        );
    }
}
