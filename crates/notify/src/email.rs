//! A mail over SMTP with `lettre` (rustls): plain, STARTTLS (required
//! when asked for) or TLS from the start, with credentials read from the
//! site's env file at the moment of sending, by variable name.

use crate::{Message, Target};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};
use std::time::Duration;

/// How long one try may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `message` to the mailbox `target` names.
pub fn send(target: &Target, message: &Message) -> Result<(), String> {
    let Target::Email {
        host,
        port,
        starttls,
        tls,
        from,
        to,
        env_file,
        user_var,
        password_var,
    } = target
    else {
        return Err("not an email target".into());
    };
    let mut builder = lettre::Message::builder()
        .from(
            from.parse()
                .map_err(|e| format!("`from = \"{from}\"`: {e}"))?,
        )
        .subject(message.subject())
        .message_id(Some(format!("<{}@{}>", message.id, message.host)))
        .header(ContentType::TEXT_PLAIN);
    for to in to {
        builder = builder.to(to.parse().map_err(|e| format!("`to = \"{to}\"`: {e}"))?);
    }
    let mail = builder
        .body(message.text())
        .map_err(|error| error.to_string())?;
    let transport = if *tls {
        SmtpTransport::relay(host).map_err(|error| error.to_string())?
    } else if *starttls {
        SmtpTransport::starttls_relay(host).map_err(|error| error.to_string())?
    } else {
        SmtpTransport::builder_dangerous(host)
    };
    let mut transport = transport.port(*port).timeout(Some(TIMEOUT));
    if let Some(credentials) = credentials(env_file.as_deref(), user_var, password_var)? {
        transport = transport.credentials(credentials);
    }
    transport
        .build()
        .send(&mail)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The credentials the env file holds under the named variables.
fn credentials(
    env_file: Option<&std::path::Path>,
    user_var: &Option<String>,
    password_var: &Option<String>,
) -> Result<Option<Credentials>, String> {
    let (Some(user_var), Some(password_var)) = (user_var, password_var) else {
        return Ok(None);
    };
    let Some(env_file) = env_file else {
        return Err("`user_var`/`password_var` name variables of the env file, and the site has no `[process] env_file`".to_owned());
    };
    let text = hoist_site::read_secret(env_file).map_err(|error| error.to_string())?;
    let vars = hoist_config::parse_env_file(&text);
    let get = |name: &str| {
        vars.iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| format!("`{name}` is not set in `{}`", env_file.display()))
    };
    Ok(Some(Credentials::new(get(user_var)?, get(password_var)?)))
}
