//! Named triggers that can be fired on demand: each schedule registers as
//! `Function.Event`, and `scripts/local fire Function.Event` fires it now.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

#[derive(Default)]
pub struct Triggers {
    registered: Mutex<BTreeMap<String, mpsc::UnboundedSender<()>>>,
}

impl Triggers {
    /// Registers `name`; the receiver gets one message per firing.
    pub fn register(&self, name: &str) -> mpsc::UnboundedReceiver<()> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.registered.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), tx);
        rx
    }

    pub fn names(&self) -> Vec<String> {
        self.registered.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Fires `name` (case-insensitive); the error lists what can be fired.
    pub fn fire(&self, name: &str) -> Result<String, String> {
        let registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let found = registered.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
        match found {
            Some((key, tx)) if tx.send(()).is_ok() => Ok(key.clone()),
            Some((key, _)) => Err(format!("{key} is no longer running")),
            None => {
                let known: Vec<&str> = registered.keys().map(String::as_str).collect();
                Err(format!(
                    "no schedule named {name}; these can be fired: {}",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ))
            }
        }
    }
}
