//! What the schema app's rows hold, as each release shows them: a
//! [`Person`] is the value a client writes, [`Shape::body`] is how one
//! release spells it, and a [`Row`] remembers what a row must hold so any
//! release's read of it can be judged ([`Row::check`]).

use super::schema_app::{Shape, NEW_EMAIL_DOMAIN, OLD_EMAIL_DOMAIN};
use serde_json::{json, Value};

/// A user as the load writes it; every release spells it its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub first: String,
    pub last: String,
}

impl Person {
    /// A person whose every part carries `seed` (letters and digits only,
    /// so a name splits on its one space and an email needs no quoting).
    pub fn new(seed: &str) -> Person {
        Person {
            first: format!("f{seed}"),
            last: format!("l{seed}"),
        }
    }

    fn name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    fn tags(&self) -> [String; 2] {
        [format!("a{}", self.first), format!("b{}", self.last)]
    }

    /// The email a release writes (`AddEmail`) or the backfill gives
    /// (`old`: `replace(name, ' ', '.') || '@old.example'`).
    fn email(&self, old: bool) -> String {
        let domain = if old {
            OLD_EMAIL_DOMAIN
        } else {
            NEW_EMAIL_DOMAIN
        };
        format!("{}.{}@{domain}", self.first, self.last)
    }
}

impl Shape {
    /// Every shape there is.
    pub const ALL: [Shape; 6] = [
        Shape::V1,
        Shape::V1Tags,
        Shape::Rename,
        Shape::AddEmail,
        Shape::TagsArray,
        Shape::Split,
    ];

    /// `person` as this shape's release reads and writes it (no `id`).
    pub fn body(self, person: &Person) -> Value {
        let [a, b] = person.tags();
        match self {
            Shape::V1 => json!({ "name": person.name() }),
            Shape::V1Tags => json!({ "name": person.name(), "tags": format!("{a},{b}") }),
            Shape::Rename => json!({ "full_name": person.name() }),
            Shape::AddEmail => json!({ "name": person.name(), "email": person.email(false) }),
            Shape::TagsArray => json!({ "name": person.name(), "tags": [a, b] }),
            Shape::Split => json!({ "first_name": person.first, "last_name": person.last }),
        }
    }

    /// A write's body: `person` in every shape, by label (the app takes
    /// its own release's).
    pub fn all_bodies(person: &Person) -> Value {
        Value::Object(
            Shape::ALL
                .iter()
                .map(|shape| (shape.label().to_owned(), shape.body(person)))
                .collect(),
        )
    }
}

/// A row the load wrote and what it must hold.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    /// The last person written to it.
    pub person: Person,
    /// The emails it may hold: the new release's own once it wrote the
    /// row; else the backfill of any name it had (a row is filled once,
    /// by the backfill or the trigger, from the name it had then).
    pub emails: Vec<String>,
    /// Every release that wrote it, in order.
    pub writers: Vec<String>,
}

impl Row {
    pub fn inserted(id: i64, person: Person, shape: Shape, release: &str) -> Row {
        let emails = vec![person.email(shape != Shape::AddEmail)];
        Row {
            id,
            person,
            emails,
            writers: vec![release.to_owned()],
        }
    }

    pub fn updated(&mut self, person: Person, shape: Shape, release: &str) {
        if shape == Shape::AddEmail {
            self.emails = vec![person.email(false)];
        } else if !self.emails[0].ends_with(NEW_EMAIL_DOMAIN) {
            self.emails.push(person.email(true));
        }
        self.person = person;
        self.writers.push(release.to_owned());
    }

    /// Whether `got` (an answer or a row as JSON, with `id`) is this row
    /// as `shape` shows it.
    pub fn check(&self, shape: Shape, got: &Value) -> Result<(), String> {
        let mut want = shape.body(&self.person);
        want["id"] = json!(self.id);
        let mut got = got.clone();
        if shape == Shape::AddEmail {
            let email = got["email"].as_str().unwrap_or_default().to_owned();
            if !self.emails.contains(&email) {
                return Err(format!(
                    "row {} has email {email:?}, not one of {:?} (written by {:?})",
                    self.id, self.emails, self.writers
                ));
            }
            got["email"] = want["email"].clone();
        }
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "row {} reads {got} as {shape:?}, not {want} (written by {:?})",
                self.id, self.writers
            ))
        }
    }
}
