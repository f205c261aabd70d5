//! `--flag value` pairs, read by hand: the tools take a handful of flags each.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// The flags of one subcommand, each given at most once.
#[derive(Debug)]
pub struct Flags(HashMap<String, String>);

impl Flags {
    /// Reads `--name value` pairs; anything else is an error.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut flags = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument {arg:?}: flags are --name value"
                ));
            };
            let value = args
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            if flags.insert(name.to_owned(), value).is_some() {
                return Err(format!("--{name} is given twice"));
            }
        }
        Ok(Self(flags))
    }

    /// The value of a flag that must be present.
    pub fn required<T>(&self, name: &str) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        let value = self
            .0
            .get(name)
            .ok_or_else(|| format!("missing --{name}"))?;
        value
            .parse()
            .map_err(|error| format!("invalid --{name} {value:?}: {error}"))
    }

    /// The value of a flag, or `default` when it is absent.
    pub fn optional<T>(&self, name: &str, default: T) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        if self.0.contains_key(name) {
            self.required(name)
        } else {
            Ok(default)
        }
    }

    /// Fails on any flag not in `known`, so that a typo is not silently ignored.
    pub fn only(self, known: &[&str]) -> Result<Self, String> {
        if let Some(unknown) = self.0.keys().find(|name| !known.contains(&name.as_str())) {
            return Err(format!("unknown flag --{unknown}"));
        }
        Ok(self)
    }
}
