//! The poll's hot path, compiled: an export item that `parse_event` took as it is, straight to the
//! JSON line that `to_line(normalize(...))` prints for it, byte for byte.
//!
//! The Python code stays the definition (plugin/normalize.py, plugin/line.py). This is a second
//! implementation of its common case only: whenever an item holds something it does not reproduce
//! exactly (an integer beyond 64 bits, a lone surrogate, nesting orjson refuses, a type JSON has
//! not) or its line would exceed the bound, it returns None and the poll takes the Python path. It
//! also holds the event check (events._has_model_types) in the same way.
//! tests/test_fastline.py checks both give the same bytes, on the corpora and on generated events;
//! tests/mutation/native.py checks those tests catch one-line slips here.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use sha1::{Digest, Sha1};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Why an item leaves this path: the Python path handles it.
struct Unsupported;

impl From<PyErr> for Unsupported {
    fn from(_: PyErr) -> Self {
        Unsupported
    }
}

type Fast<T> = Result<T, Unsupported>;

/// The keys looked up through tables, each interned once: looking a key up by a Rust &str would
/// build (and hash) a fresh Python str every time, which costs more than the lookup.
macro_rules! keys {
    ($($name:ident = $text:literal),* $(,)?) => {
        #[derive(Clone, Copy)]
        enum K { $($name),* }
        const KEY_TEXTS: &[&str] = &[$($text),*];
    };
}

keys!(
    Message = "message",
    Ip = "ip",
    UserAgent = "userAgent",
    Author = "author",
    Location = "location",
    Token = "token",
    Oauth = "oauth",
    UnderscoreId = "_id",
    Id = "id",
    User = "user",
    AvatarUrl = "avatarUrl",
    Type = "type",
    Deleted = "deleted",
    Formatted = "formatted",
    Country = "country",
    City = "city",
    Role = "role",
    Last4 = "last4",
    ClientId = "clientId",
    Name = "name",
    Collection = "collection",
    ResourceGroup = "resourceGroup",
    Job = "job",
    ScheduledJob = "scheduledJob",
    ServiceAccount = "serviceAccount",
    Slug = "slug",
);

static KEYS: pyo3::sync::GILOnceCell<Vec<Py<PyString>>> = pyo3::sync::GILOnceCell::new();

fn key(py: Python<'_>, name: K) -> &Bound<'_, PyString> {
    KEYS.get_or_init(py, || KEY_TEXTS.iter().map(|text| PyString::intern(py, text).unbind()).collect())[name as usize].bind(py)
}


/// The bounds normalize.py and line.py declare, handed over when the writer is built.
#[derive(Clone, Copy)]
struct Limits {
    tag_value_chars: usize,
    tag_key_chars: usize,
    data_tags: i64,
    data_depth: usize,
    resources: usize,
}

/// The per-event columns; every other column is the same in every record of a poll.
#[derive(Clone, Copy)]
enum Field {
    Id,
    EventTime,
    EventType,
    EventId,
    Ip,
    City,
    Actor,
    Tags,
    Resources,
    ReadOnly,
    RawLog,
    Message,
    AuthorId,
    AuthorUser,
    AuthorType,
    LocationFormatted,
    LocationCountry,
    TokenType,
    TokenId,
    TokenRole,
    TokenLast4,
    TokenDeleted,
}

fn event_field(column: &str) -> Option<Field> {
    Some(match column {
        "id" => Field::Id,
        "eventTime" => Field::EventTime,
        "eventName" | "eventType" => Field::EventType,
        "eventID" | "auditID" => Field::EventId,
        "srcIP" | "actorIP" => Field::Ip,
        "srcCity" | "locationCity" => Field::City,
        "actor" => Field::Actor,
        "tags" => Field::Tags,
        "resources" => Field::Resources,
        "readOnly" => Field::ReadOnly,
        "rawLog" => Field::RawLog,
        "message" => Field::Message,
        "authorID" => Field::AuthorId,
        "authorUser" => Field::AuthorUser,
        "authorType" => Field::AuthorType,
        "locationFormatted" => Field::LocationFormatted,
        "locationCountry" => Field::LocationCountry,
        "tokenType" => Field::TokenType,
        "tokenID" => Field::TokenId,
        "tokenRole" => Field::TokenRole,
        "tokenLast4" => Field::TokenLast4,
        "tokenDeleted" => Field::TokenDeleted,
        _ => return None,
    })
}

enum Slot {
    Constant(Vec<u8>), // the poll's value
    Event(Field),
}

/// One column of the record, in order.
struct Column {
    key: Vec<u8>, // `{"name":` or `,"name":`
    name: String,
    slot: Slot,
}

/// A line as runs of fixed bytes (keys, the poll's constants, an enrichment's values), each
/// followed by at most one per-event value: 23 runs for the 51 columns.
type Runs = Vec<(Vec<u8>, Option<Field>)>;

/// The runs of `columns`, with the values `filled` gives (column -> JSON) in place of theirs: an
/// enrichment may fill any column, one the event also fills (srcCity) included.
fn runs_of(columns: &[Column], filled: &HashMap<String, Vec<u8>>) -> Runs {
    let mut runs: Runs = vec![(Vec::new(), None)];
    for column in columns {
        let last = runs.len() - 1;
        runs[last].0.extend_from_slice(&column.key);
        match (filled.get(&column.name), &column.slot) {
            (Some(json), _) | (None, Slot::Constant(json)) => runs[last].0.extend_from_slice(json),
            (None, Slot::Event(field)) => {
                runs[last].1 = Some(*field);
                runs.push((Vec::new(), None));
            }
        }
    }
    let last = runs.len() - 1;
    runs[last].0.extend_from_slice(b"}\n");
    runs
}

/// Writes one poll's lines. Built once a poll from the record template (normalize.py), so the
/// column order and the poll's constants come from the Python side.
#[pyclass(frozen, module = "hf_audit._native")]
struct ItemLineWriter {
    columns: Vec<Column>,
    runs: Runs, // the line without enrichment

    id_prefix: Vec<u8>,
    org: String,
    read_only_types: HashSet<String>,
    limits: Limits,
    max_line_bytes: usize,
    dumps: Py<PyAny>, // orjson.dumps: rawLog is the event's JSON as orjson writes it
}

#[pymethods]
impl ItemLineWriter {
    /// `columns`: (name, the template value's JSON) in record order; a per-event column's JSON
    /// is not used. `limits`: MAX_TAG_VALUE_CHARS, MAX_TAG_KEY_CHARS, MAX_DATA_TAGS,
    /// MAX_DATA_DEPTH, MAX_RESOURCES. `dumps`: orjson.dumps, which writes rawLog's text: faster
    /// than walking the item here, and what it refuses is the Python path's.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        columns: Vec<(String, Vec<u8>)>,
        id_prefix: Vec<u8>,
        org: String,
        read_only_types: HashSet<String>,
        limits: (usize, usize, i64, usize, usize),
        max_line_bytes: usize,
        dumps: Py<PyAny>,
    ) -> Self {
        let columns: Vec<Column> = columns
            .into_iter()
            .enumerate()
            .map(|(index, (name, value))| {
                let mut key = vec![if index == 0 { b'{' } else { b',' }];
                write_str(&mut key, &name);
                key.push(b':');
                let slot = event_field(&name).map_or(Slot::Constant(value), Slot::Event);
                Column { key, name, slot }
            })
            .collect();
        let runs = runs_of(&columns, &HashMap::new());
        let (tag_value_chars, tag_key_chars, data_tags, data_depth, resources) = limits;
        ItemLineWriter {
            columns,
            runs,
            id_prefix,
            org,
            read_only_types,
            limits: Limits { tag_value_chars, tag_key_chars, data_tags, data_depth, resources },
            max_line_bytes,
            dumps,
        }
    }

    /// What an enrichment fills for one address (column -> its value's JSON), ready for `line`:
    /// built once per address, so a record pays nothing to look its columns up.
    fn enrichment(&self, filled: HashMap<String, Vec<u8>>) -> Enrichment {
        Enrichment { runs: runs_of(&self.columns, &filled) }
    }

    /// The item's line (newline included), or None when the Python path must write it.
    /// `enriched`: what an enrichment fills for the item's address (from `enrichment`).
    #[pyo3(signature = (item, enriched=None))]
    fn line<'py>(
        &self,
        py: Python<'py>,
        item: &Bound<'py, PyAny>,
        enriched: Option<&Enrichment>,
    ) -> Option<Bound<'py, PyBytes>> {
        let raw_log = self.dumps.bind(py).call1((item,)).ok()?; // refused (an error): the Python path
        let raw_log = std::str::from_utf8(raw_log.downcast_exact::<PyBytes>().ok()?.as_bytes()).ok()?;
        LINE.with(|line| {
            // Busy only if a line were asked for while one is written (nothing here runs Python
            // code that could): then the Python path writes it.
            let mut line = line.try_borrow_mut().ok()?;
            self.write_line(py, item, raw_log, enriched, &mut line).ok()?;
            (line.len() <= self.max_line_bytes).then(|| PyBytes::new(py, &line))
        })
    }
}

/// A line with an enrichment's values in it (see `ItemLineWriter::enrichment`).
#[pyclass(frozen, module = "hf_audit._native")]
struct Enrichment {
    runs: Runs,
}

/// The fields of an event that the record reads, with the model's defaults: text borrowed from
/// the item (see `text_in`).
struct Event<'a> {
    id: &'a str,
    created_at: &'a str,
    event_type: &'a str,
    ip: &'a str,
    message: &'a str,
    city: &'a str,
    location_formatted: &'a str,
    location_country: &'a str,
    author_id: &'a str,
    author_user: &'a str,
    author_type: &'a str,
    token_type: &'a str,
    token_id: &'a str,
    token_role: &'a str,
    token_last4: &'a str,
    token_deleted: bool,
}

thread_local! {
    // The line, reused from call to call: a fresh buffer of a few KB each time costs more than
    // the rest of the line (glibc consolidates its small free chunks first).
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl ItemLineWriter {
    fn write_line(
        &self,
        py: Python<'_>,
        item: &Bound<'_, PyAny>,
        raw_log: &str,
        enriched: Option<&Enrichment>,
        line: &mut Vec<u8>,
    ) -> Fast<()> {
        let owner = item;
        let item = item.downcast_exact::<PyDict>().map_err(|_| Unsupported)?;
        let author = nested(item, intern!(py, "author"))?;
        let location = nested(item, intern!(py, "location"))?;
        let token = nested(item, intern!(py, "token"))?;
        let text = |mapping: Option<&Bound<'_, PyDict>>, key: &Bound<'_, PyString>| text_or_empty(owner, mapping, key);
        let event = Event {
            id: required_text(owner, item, intern!(py, "_id"))?,
            created_at: required_text(owner, item, intern!(py, "createdAt"))?,
            event_type: required_text(owner, item, intern!(py, "type"))?,
            ip: text(Some(item), intern!(py, "ip"))?,
            message: text(Some(item), intern!(py, "message"))?,
            city: text(location.as_ref(), intern!(py, "city"))?,
            location_formatted: text(location.as_ref(), intern!(py, "formatted"))?,
            location_country: text(location.as_ref(), intern!(py, "country"))?,
            author_id: text(author.as_ref(), intern!(py, "_id"))?,
            author_user: text(author.as_ref(), intern!(py, "user"))?,
            author_type: text(author.as_ref(), intern!(py, "type"))?,
            token_type: text(token.as_ref(), intern!(py, "type"))?,
            token_id: text(token.as_ref(), intern!(py, "id"))?,
            token_role: text(token.as_ref(), intern!(py, "role"))?,
            token_last4: text(token.as_ref(), intern!(py, "last4"))?,
            token_deleted: match token.as_ref().map(|t| t.get_item(intern!(py, "deleted"))).transpose()?.flatten() {
                None => false,
                Some(flag) => exact_bool(&flag)?,
            },
        };
        let (scope, action) = event.event_type.split_once('.').unwrap_or((event.event_type, ""));
        let data = item.get_item(intern!(py, "data"))?.filter(|value| !value.is_none());

        let mut tags = Tags::default();
        tags.set(Cow::Borrowed("scope"), Cow::Borrowed(scope));
        tags.set(Cow::Borrowed("action"), Cow::Borrowed(action));
        tags.set(Cow::Borrowed("org"), Cow::Borrowed(&self.org));
        let user_agent = text(Some(item), intern!(py, "userAgent"))?;
        if !user_agent.is_empty() {
            tags.set(Cow::Borrowed("userAgent"), Cow::Borrowed(user_agent));
        }
        if let Some(oauth) = item.get_item(intern!(py, "oauth"))?.filter(|value| !value.is_none()) {
            let oauth = oauth.downcast_exact::<PyDict>().map_err(|_| Unsupported)?;
            tags.set(Cow::Borrowed("oauth.clientId"), Cow::Borrowed(text(Some(oauth), intern!(py, "clientId"))?));
            let name = text(Some(oauth), intern!(py, "name"))?;
            if !name.is_empty() {
                tags.set(Cow::Borrowed("oauth.name"), Cow::Borrowed(name));
            }
        }
        if let Some(data) = &data {
            if !self.flatten_data(owner, data, &mut tags)? {
                tags.set(Cow::Borrowed("truncated"), Cow::Borrowed("true"));
            }
        }
        let actor = self.actor(py, owner, author.as_ref(), &event, &mut tags)?;
        let resources = match &data {
            Some(data) => resources_of(py, owner, data, scope, self.limits.resources)?,
            None => Vec::new(),
        };

        let parts = Parts { event, actor, tags, resources, raw_log };
        line.clear();
        for (fixed, field) in enriched.map_or(&self.runs, |enriched| &enriched.runs) {
            line.extend_from_slice(fixed);
            if let Some(field) = field {
                self.write_field(line, *field, &parts);
            }
        }
        Ok(())
    }

    fn write_field(&self, line: &mut Vec<u8>, field: Field, parts: &Parts<'_, '_>) {
        let (event, raw_log) = (&parts.event, &parts.raw_log);
        match field {
            Field::Id => self.write_record_id(line, event.id),
            Field::EventTime => write_str(line, event.created_at),
            Field::EventType => write_str(line, event.event_type),
            Field::EventId => write_str(line, event.id),
            Field::Ip => write_str(line, event.ip),
            Field::City => write_str(line, event.city),
            Field::Actor => write_pairs(line, &parts.actor),
            Field::Tags => write_pairs(line, &parts.tags.pairs),
            Field::Resources => write_strs(line, &parts.resources),
            Field::ReadOnly => write_bool(line, self.read_only_types.contains(event.event_type)),
            Field::RawLog => write_str(line, raw_log),
            Field::Message => write_str(line, event.message),
            Field::AuthorId => write_str(line, event.author_id),
            Field::AuthorUser => write_str(line, event.author_user),
            Field::AuthorType => write_str(line, event.author_type),
            Field::LocationFormatted => write_str(line, event.location_formatted),
            Field::LocationCountry => write_str(line, event.location_country),
            Field::TokenType => write_str(line, event.token_type),
            Field::TokenId => write_str(line, event.token_id),
            Field::TokenRole => write_str(line, event.token_role),
            Field::TokenLast4 => write_str(line, event.token_last4),
            Field::TokenDeleted => write_bool(line, event.token_deleted),
        }
    }

    /// RecordContext.record_id: sha1(namespace + "huggingface:<org>:" + id) as uuid5-style text.
    fn write_record_id(&self, out: &mut Vec<u8>, event_id: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // The sha1 crate uses the CPU's SHA instructions where it has them.
        let digest = Sha1::new().chain_update(&self.id_prefix).chain_update(event_id.as_bytes()).finalize();
        let mut hex = [0u8; 32];
        for (index, byte) in digest[..16].iter().enumerate() {
            hex[2 * index] = HEX[(byte >> 4) as usize];
            hex[2 * index + 1] = HEX[(byte & 0xf) as usize];
        }
        hex[12] = b'5'; // the version digit replaces the hash's 13th
        hex[16] = b"89ab"[(digest[8] >> 4 & 0x3) as usize]; // the variant: 10 and the digit's two low bits
        out.push(b'"');
        for (start, end) in [(0, 8), (8, 12), (12, 16), (16, 20), (20, 32)] {
            if start > 0 {
                out.push(b'-');
            }
            out.extend_from_slice(&hex[start..end]);
        }
        out.push(b'"');
    }

    /// normalize's actor map, cut to the tag value bound (and flagged) when a value is longer.
    fn actor<'a>(
        &self,
        py: Python<'_>,
        owner: &'a Bound<'_, PyAny>,
        author: Option<&Bound<'_, PyDict>>,
        event: &Event<'a>,
        tags: &mut Tags<'a>,
    ) -> Fast<Vec<(Cow<'a, str>, Cow<'a, str>)>> {
        let mut actor = vec![
            (Cow::Borrowed("id"), Cow::Borrowed(event.author_id)),
            (Cow::Borrowed("user"), Cow::Borrowed(event.author_user)),
            (Cow::Borrowed("type"), Cow::Borrowed(event.author_type)),
        ];
        let avatar_url = text_or_empty(owner, author, intern!(py, "avatarUrl"))?;
        if let Some(author) = author {
            if !avatar_url.is_empty() {
                actor.push((Cow::Borrowed("avatarUrl"), Cow::Borrowed(avatar_url)));
            }
            if let Some(deleted) = author.get_item(intern!(py, "deleted"))?.filter(|value| !value.is_none()) {
                let text = if exact_bool(&deleted)? { "true" } else { "false" };
                actor.push((Cow::Borrowed("deleted"), Cow::Borrowed(text)));
            }
        }
        let bound = self.limits.tag_value_chars;
        let too_long = [event.author_id, event.author_user, event.author_type, avatar_url]
            .iter()
            .any(|text| chars(text) > bound);
        if too_long {
            for (_, value) in actor.iter_mut() {
                if let Cow::Borrowed(text) = value {
                    *value = Cow::Borrowed(prefix_chars(text, bound));
                }
            }
            tags.set(Cow::Borrowed("truncated"), Cow::Borrowed("true"));
        }
        Ok(actor)
    }

    /// normalize._flatten_data: data's scalar leaves as tags; false when something was left out.
    fn flatten_data<'a>(&self, owner: &'a Bound<'_, PyAny>, data: &Bound<'_, PyAny>, tags: &mut Tags<'a>) -> Fast<bool> {
        if data.is_exact_instance_of::<PyDict>() || data.is_exact_instance_of::<PyList>() {
            return Ok(self.flatten_container(owner, data, "data", tags, 0, self.limits.data_tags)?.0);
        }
        let text = scalar_text(owner, data)?.unwrap_or_default();
        Ok(self.add_tag(Cow::Borrowed("data"), text, tags))
    }

    fn add_tag<'a>(&self, key: Cow<'a, str>, text: Cow<'a, str>, tags: &mut Tags<'a>) -> bool {
        let (key_bound, value_bound) = (self.limits.tag_key_chars, self.limits.tag_value_chars);
        if chars(&text) <= value_bound && chars(&key) <= key_bound {
            tags.set(key, text);
            return true;
        }
        let key = Cow::Owned(prefix_chars(&key, key_bound).to_owned());
        let text = Cow::Owned(prefix_chars(&text, value_bound).to_owned());
        tags.set(key, text);
        false
    }

    /// normalize._flatten_container, leaf for leaf and in the same order.
    fn flatten_container<'a>(
        &self,
        owner: &'a Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        key: &str,
        tags: &mut Tags<'a>,
        depth: usize,
        mut budget: i64,
    ) -> Fast<(bool, i64)> {
        if depth >= self.limits.data_depth {
            return Ok((false, budget));
        }
        let mut complete = true;
        let mut child_tag = |child_key: &str, child: &Bound<'_, PyAny>, budget: &mut i64| -> Fast<bool> {
            let path = format!("{key}.{child_key}");
            if child.is_exact_instance_of::<PyDict>() || child.is_exact_instance_of::<PyList>() {
                let (done, left) = self.flatten_container(owner, child, &path, tags, depth + 1, *budget)?;
                *budget = left;
                return Ok(done);
            }
            let Some(text) = scalar_text(owner, child)? else { return Ok(true) };
            if *budget <= 0 {
                return Ok(false);
            }
            *budget -= 1;
            Ok(self.add_tag(Cow::Owned(path), text, tags))
        };
        if let Ok(list) = value.downcast_exact::<PyList>() {
            if let Some(texts) = scalar_texts(owner, list)? {
                if budget <= 0 {
                    return Ok((false, budget));
                }
                return Ok((self.add_tag(Cow::Owned(key.to_owned()), Cow::Owned(texts.join(",")), tags), budget - 1));
            }
            for (index, child) in list.iter().enumerate() {
                complete = child_tag(&index.to_string(), &child, &mut budget)? && complete;
            }
        } else {
            for (child_key, child) in value.downcast_exact::<PyDict>().map_err(|_| Unsupported)?.iter() {
                complete = child_tag(text_in(owner, &child_key)?, &child, &mut budget)? && complete;
            }
        }
        Ok((complete, budget))
    }
}

/// What a line is written from, once the event is read.
struct Parts<'a, 'b> {
    event: Event<'a>,
    actor: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    tags: Tags<'a>,
    resources: Vec<String>,
    raw_log: &'b str,
}

/// The tags map: insertion order, and a key set again keeps its first place (a Python dict).
#[derive(Default)]
struct Tags<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Tags<'a> {
    fn set(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        match self.pairs.iter_mut().find(|(existing, _)| *existing == key) {
            Some((_, slot)) => *slot = value,
            None => self.pairs.push((key, value)),
        }
    }
}

// --- reading Python values: exact types only, anything else leaves this path ---------------

/// The text of a str object reached from `owner` (the item), borrowed for as long as the item is.
///
/// Sound because the str object cannot go away before the item does: the item holds it, through
/// its containers, and nothing changes the item while a line is written. This code holds the GIL
/// and runs no Python code (orjson.dumps, before, only reads the item; str() of a float is
/// built in): it only reads exact dicts, lists and scalars, and looks keys up with
/// exact str keys in dicts a JSON parser built (their keys are str too), so hashing and comparing
/// are built in. The UTF-8 bytes are the object's own
/// (or its cache of them), freed only with it. A lone surrogate has no UTF-8: to_str fails, and
/// the Python path replaces it.
fn text_in<'a>(owner: &'a Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> Fast<&'a str> {
    let _ = owner;
    let text: &str = value.downcast_exact::<PyString>().map_err(|_| Unsupported)?.to_str()?;
    // SAFETY: see above: `value` lives at least as long as `owner`'s borrow.
    Ok(unsafe { &*(text as *const str) })
}

fn exact_bool(value: &Bound<'_, PyAny>) -> Fast<bool> {
    Ok(value.downcast_exact::<PyBool>().map_err(|_| Unsupported)?.is_true())
}

/// An integer's decimal text, when it fits the 64 bits orjson serializes.
fn int_text(value: &Bound<'_, PyAny>) -> Fast<String> {
    if let Ok(number) = value.extract::<i64>() {
        return Ok(number.to_string());
    }
    Ok(value.extract::<u64>()?.to_string())
}

fn required_text<'a>(owner: &'a Bound<'_, PyAny>, item: &Bound<'_, PyDict>, key: &Bound<'_, PyString>) -> Fast<&'a str> {
    text_in(owner, &item.get_item(key)?.ok_or(Unsupported)?)
}

/// `mapping.get(key, "")`, for a text field (parse_event has checked it is text when present).
fn text_or_empty<'a>(
    owner: &'a Bound<'_, PyAny>,
    mapping: Option<&Bound<'_, PyDict>>,
    key: &Bound<'_, PyString>,
) -> Fast<&'a str> {
    match mapping.map(|m| m.get_item(key)).transpose()?.flatten() {
        None => Ok(""),
        Some(value) => text_in(owner, &value),
    }
}

/// `event.get(key) or {}` for author, location and token: None when absent, null or empty.
fn nested<'py>(item: &Bound<'py, PyDict>, key: &Bound<'py, PyString>) -> Fast<Option<Bound<'py, PyDict>>> {
    match item.get_item(key)? {
        None => Ok(None),
        Some(value) if value.is_none() => Ok(None),
        Some(value) => {
            let mapping = value.downcast_exact::<PyDict>().map_err(|_| Unsupported)?.clone();
            Ok((!mapping.is_empty()).then_some(mapping))
        }
    }
}

/// normalize._scalar_text: the tag text of a scalar, None for a container.
fn scalar_text<'a>(owner: &'a Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> Fast<Option<Cow<'a, str>>> {
    if value.is_exact_instance_of::<PyString>() {
        return Ok(Some(Cow::Borrowed(text_in(owner, value)?)));
    }
    if value.is_exact_instance_of::<PyBool>() {
        return Ok(Some(Cow::Borrowed(if exact_bool(value)? { "true" } else { "false" })));
    }
    if value.is_exact_instance_of::<PyInt>() {
        return Ok(Some(Cow::Owned(int_text(value)?)));
    }
    if value.is_none() {
        return Ok(Some(Cow::Borrowed("")));
    }
    if value.is_exact_instance_of::<PyFloat>() {
        // str(float), from Python itself: its shortest-repr rules are not written again here.
        return Ok(Some(Cow::Owned(value.str()?.to_str()?.to_owned())));
    }
    if value.is_exact_instance_of::<PyDict>() || value.is_exact_instance_of::<PyList>() {
        return Ok(None);
    }
    Err(Unsupported) // a type JSON has not
}

/// normalize._scalar_texts: every item's text, or None when one is a container.
fn scalar_texts<'a>(owner: &'a Bound<'_, PyAny>, list: &Bound<'_, PyList>) -> Fast<Option<Vec<Cow<'a, str>>>> {
    let mut texts = Vec::with_capacity(list.len());
    for item in list.iter() {
        match scalar_text(owner, &item)? {
            Some(text) => texts.push(text),
            None => return Ok(None),
        }
    }
    Ok(Some(texts))
}

fn chars(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// The first `count` characters (code points, as Python's slice).
fn prefix_chars(text: &str, count: usize) -> &str {
    if text.len() <= count {
        return text; // no more bytes than the count: no more characters either
    }
    match text.char_indices().nth(count) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

// --- resources (normalize.resources_of) ---------------------------------------------------

fn non_empty_text<'a>(owner: &'a Bound<'_, PyAny>, value: Option<&Bound<'_, PyAny>>) -> Fast<Option<&'a str>> {
    match value {
        Some(value) if value.is_exact_instance_of::<PyString>() => {
            let text = text_in(owner, value)?;
            Ok((!text.is_empty()).then_some(text))
        }
        Some(value) if value.is_instance_of::<PyString>() => Err(Unsupported), // a str subclass
        _ => Ok(None),
    }
}

fn repo_resource(py: Python<'_>, owner: &Bound<'_, PyAny>, repo: &Bound<'_, PyAny>) -> Fast<Option<String>> {
    if let Some(name) = non_empty_text(owner, Some(repo))? {
        return Ok(Some(format!("model:{name}")));
    }
    let Ok(repo) = repo.downcast_exact::<PyDict>() else {
        return if repo.is_instance_of::<PyDict>() { Err(Unsupported) } else { Ok(None) };
    };
    // `repo.get("name") or repo.get("id")`: Python truthiness decides which one is read.
    let name = match repo.get_item(intern!(py, "name"))? {
        Some(name) if name.is_truthy()? => Some(name),
        _ => repo.get_item(intern!(py, "id"))?,
    };
    let Some(name) = non_empty_text(owner, name.as_ref())? else { return Ok(None) };
    let kind = match repo.get_item(intern!(py, "type"))? {
        Some(kind) if kind.is_exact_instance_of::<PyString>() => text_in(owner, &kind)?,
        Some(kind) if kind.is_instance_of::<PyString>() => return Err(Unsupported),
        _ => "model",
    };
    Ok(Some(format!("{kind}:{name}")))
}

fn named(py: Python<'_>, owner: &Bound<'_, PyAny>, prefix: &str, value: &Bound<'_, PyAny>, fields: &[K]) -> Fast<Option<String>> {
    if let Some(text) = non_empty_text(owner, Some(value))? {
        return Ok(Some(format!("{prefix}:{text}")));
    }
    let Ok(mapping) = value.downcast_exact::<PyDict>() else {
        return if value.is_instance_of::<PyDict>() { Err(Unsupported) } else { Ok(None) };
    };
    for field in fields {
        if let Some(found) = non_empty_text(owner, mapping.get_item(key(py, *field))?.as_ref())? {
            return Ok(Some(format!("{prefix}:{found}")));
        }
    }
    Ok(None)
}

const NAMED_RESOURCES: [(K, &str, &[K]); 6] = [
    (K::Collection, "collection", &[K::Slug, K::Id]),
    (K::ResourceGroup, "resource_group", &[K::Id, K::Name]),
    (K::Job, "job", &[K::Id]),
    (K::ScheduledJob, "scheduled_job", &[K::Id]),
    (K::ServiceAccount, "service_account", &[K::Id, K::Name]),
    (K::User, "user", &[K::User, K::Name]),
];

const RESOURCE_KEYS: [&str; 11] = [
    "repo", "repoId", "from", "to", "users", "collection", "resourceGroup", "job", "scheduledJob", "serviceAccount", "user",
];

fn resources_of(
    py: Python<'_>,
    owner: &Bound<'_, PyAny>,
    data: &Bound<'_, PyAny>,
    scope: &str,
    limit: usize,
) -> Fast<Vec<String>> {
    let Ok(data) = data.downcast_exact::<PyDict>() else { return Ok(Vec::new()) };
    // Most events' data names no resource: one look at its few keys saves eleven lookups.
    let mut names_one = false;
    for (name, _) in data.iter() {
        names_one |= name.downcast_exact::<PyString>().is_ok_and(|name| name.to_str().is_ok_and(|name| RESOURCE_KEYS.contains(&name)));
    }
    if !names_one {
        return Ok(Vec::new());
    }
    let mut found: Vec<String> = Vec::new();
    for key in [intern!(py, "repo"), intern!(py, "repoId")] {
        if let Some(repo) = data.get_item(key)? {
            found.extend(repo_resource(py, owner, &repo)?);
        }
    }
    if scope == "repo" {
        let from = data.get_item(intern!(py, "from"))?.filter(|v| v.is_exact_instance_of::<PyString>());
        let to = data.get_item(intern!(py, "to"))?.filter(|v| v.is_exact_instance_of::<PyString>());
        if let (Some(from), Some(to)) = (from, to) {
            let kind = found.first().map_or("model", |first| first.split(':').next().unwrap_or(""));
            let pair = [format!("{kind}:{}", text_in(owner, &from)?), format!("{kind}:{}", text_in(owner, &to)?)];
            found.extend(pair);
        }
    }
    for (name, prefix, fields) in NAMED_RESOURCES {
        if let Some(value) = data.get_item(key(py, name))? {
            found.extend(named(py, owner, prefix, &value, fields)?);
        }
    }
    if let Some(users) = data.get_item(intern!(py, "users"))? {
        if let Ok(users) = users.downcast_exact::<PyList>() {
            for user in users.iter() {
                found.extend(named(py, owner, "user", &user, &[K::User, K::Name])?);
            }
        } else if users.is_instance_of::<PyList>() {
            return Err(Unsupported);
        }
    }
    if found.len() < 2 {
        return Ok(found);
    }
    let mut seen = HashSet::new();
    found.retain(|name| seen.insert(name.clone()));
    found.truncate(limit);
    Ok(found)
}

// --- writing JSON as orjson does ----------------------------------------------------------

/// The high bit of each of the 8 bytes (little-endian) that may need an escape: below 0x20, a
/// quote or a backslash. The usual bit tricks: a borrow can mark a byte after a true one, never one
/// before it, so the lowest mark is exactly the first byte to escape.
fn escape_marks(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    (below_space | zero_byte(quote) | zero_byte(backslash)) & HIGHS
}

/// How orjson escapes each byte in a string, as (the escape's bytes in a little-endian word, its
/// length), length 0 for a byte written as it is: `"` and `\`, control characters as \b \t \n \f
/// \r or \u00xx in lower-case hex; everything else (DEL, non-ASCII) as its UTF-8 bytes.
const ESCAPES: [(u64, usize); 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [(0u64, 0usize); 256];
    let mut byte = 0;
    while byte < 256 {
        let short = match byte as u8 {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            _ => 0,
        };
        table[byte] = if short != 0 {
            (u64::from_le_bytes([b'\\', short, 0, 0, 0, 0, 0, 0]), 2)
        } else if byte < 0x20 {
            (u64::from_le_bytes([b'\\', b'u', b'0', b'0', HEX[byte >> 4], HEX[byte & 0xf], 0, 0]), 6)
        } else {
            (0, 0)
        };
        byte += 1;
    }
    table
};

/// Appends `text` escaped as orjson escapes a string's content, without the quotes.
///
/// Written through a raw pointer into room reserved up front: this runs for every string of every
/// line (rawLog among them, the event's JSON with a quote every few bytes), and a bounds-checked
/// copy for each run between escapes cost a third of the line. The room: each byte takes at most 6
/// (`\u00xx`), and a write is a whole 8-byte word, so 8 more.
fn write_escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() * 6 + 8);
    let mut length = out.len();
    let room = out.capacity(); // no write below reaches past it: the debug build asserts so
    let base = out.as_mut_ptr();
    let mut index = 0;
    while index < bytes.len() {
        let byte = match bytes.get(index..index + 8) {
            Some(eight) => {
                // Eight bytes at once: copied whole, then kept up to the first one to escape.
                let word = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
                debug_assert!(length + 8 <= room);
                // SAFETY: length + 8 <= room: each input byte before `index` added at most 6
                // output bytes, and 8 spare bytes were reserved.
                unsafe { base.add(length).cast::<u64>().write_unaligned(word) };
                let marks = escape_marks(word);
                if marks == 0 {
                    length += 8;
                    index += 8;
                    continue;
                }
                let clean = (marks.trailing_zeros() / 8) as usize;
                length += clean;
                index += clean;
                bytes[index]
            }
            None => bytes[index],
        };
        let (sequence, size) = ESCAPES[byte as usize];
        debug_assert!(length + 8 <= room);
        if size == 0 {
            // SAFETY: within the reserved capacity, as above.
            unsafe { base.add(length).write(byte) };
            length += 1;
        } else {
            // SAFETY: within the reserved capacity: the 8 spare bytes cover the whole word.
            unsafe { base.add(length).cast::<u64>().write_unaligned(sequence) };
            length += size;
        }
        index += 1;
    }
    // SAFETY: every byte up to `length` was written above, within the capacity reserved.
    unsafe { out.set_len(length) };
}

/// A JSON string as orjson writes it.
fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    write_escaped(out, text);
    out.push(b'"');
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

fn write_pairs(out: &mut Vec<u8>, pairs: &[(Cow<'_, str>, Cow<'_, str>)]) {
    out.push(b'{');
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_str(out, value);
    }
    out.push(b'}');
}

fn write_strs(out: &mut Vec<u8>, texts: &[String]) {
    out.push(b'[');
    for (index, text) in texts.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(out, text);
    }
    out.push(b']');
}

// --- the event check (events._has_model_types) -------------------------------------------

/// events._has_model_types, compiled: whether HubEvent would take every field of `item` unchanged.
/// Like the Python check it is stricter than the model, so a false only means "ask the model".
#[pyfunction]
fn has_model_types(py: Python<'_>, item: &Bound<'_, PyAny>) -> bool {
    model_types(py, item).unwrap_or(false)
}

const TEXT_FIELDS: [K; 3] = [K::Message, K::Ip, K::UserAgent];
// nested object, its text fields, its flag field ("" for none), whether the flag may be null
const NESTED_FIELDS: [(K, &[K], Option<K>, bool); 4] = [
    (K::Author, &[K::UnderscoreId, K::User, K::AvatarUrl, K::Type], Some(K::Deleted), true),
    (K::Location, &[K::Formatted, K::Country, K::City], None, false),
    (K::Token, &[K::Type, K::Id, K::Role, K::Last4], Some(K::Deleted), false),
    (K::Oauth, &[K::ClientId, K::Name], None, false),
];

fn model_types(py: Python<'_>, item: &Bound<'_, PyAny>) -> Fast<bool> {
    let Ok(item) = item.downcast_exact::<PyDict>() else { return Ok(false) };
    let ascii_text = |key: &Bound<'_, PyString>, most: usize| -> Fast<bool> {
        let Some(value) = item.get_item(key)? else { return Ok(false) };
        let Ok(text) = value.downcast_exact::<PyString>() else { return Ok(false) };
        let text = text.to_str()?;
        Ok(!text.is_empty() && text.len() <= most && text.is_ascii())
    };
    if !ascii_text(intern!(py, "_id"), 256)? || !ascii_text(intern!(py, "type"), 1024)? {
        return Ok(false);
    }
    let Some(created) = item.get_item(intern!(py, "createdAt"))? else { return Ok(false) };
    let Ok(created) = created.downcast_exact::<PyString>() else { return Ok(false) };
    if !is_canonical_time(created.to_str()?.as_bytes()) {
        return Ok(false);
    }
    let text_or_absent = |mapping: &Bound<'_, PyDict>, name: K| -> Fast<bool> {
        Ok(mapping.get_item(key(py, name))?.is_none_or(|value| value.is_exact_instance_of::<PyString>()))
    };
    for name in TEXT_FIELDS {
        if !text_or_absent(item, name)? {
            return Ok(false);
        }
    }
    for (name, texts, flag, flag_may_be_null) in NESTED_FIELDS {
        let nested = match item.get_item(key(py, name))? {
            None => continue,
            Some(value) if value.is_none() => continue,
            Some(value) => value,
        };
        let Ok(nested) = nested.downcast_exact::<PyDict>() else { return Ok(false) };
        if matches!(name, K::Author) && nested.contains(key(py, K::Id))? {
            return Ok(false); // "id" is the model's name for "_id"
        }
        for &text in texts {
            if !text_or_absent(nested, text)? {
                return Ok(false);
            }
        }
        if let Some(flag) = flag {
            if let Some(value) = nested.get_item(key(py, flag))? {
                if !(value.is_exact_instance_of::<PyBool>() || value.is_none() && flag_may_be_null) {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// timefmt.is_canonical_time: `YYYY-MM-DDTHH:MM:SS.mmmZ` with ASCII digits, and a date and time
/// that datetime.fromisoformat accepts (year 1 to 9999, the month's days, leap years, second < 60).
fn is_canonical_time(text: &[u8]) -> bool {
    const SHAPE: &[u8; 24] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    if text.len() != SHAPE.len() {
        return false;
    }
    for (&byte, &expected) in text.iter().zip(SHAPE) {
        let fits = if expected == b'd' { byte.is_ascii_digit() } else { byte == expected };
        if !fits {
            return false;
        }
    }
    let number = |from: usize, to: usize| text[from..to].iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let (hour, minute, second) = (number(11, 13), number(14, 16), number(17, 19));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<ItemLineWriter>()?;
    module.add_class::<Enrichment>()?;
    module.add_function(wrap_pyfunction!(has_model_types, module)?)?;
    Ok(())
}
