//! The pages' languages, chosen by the path (`/sr/balance`). Texts are Rust
//! tables, one per language, checked against each other by a test, so a page can
//! never show a key another language lacks.

mod console;
mod en;
mod ru;
mod sr;

/// Shown instead of a text no table has: the end-to-end tests look for it.
pub const MISSING: &str = "[untranslated]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    Sr,
    Ru,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Sr, Locale::Ru];

    /// `None` for a language the pages do not speak: the caller answers 404.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The first language of an `Accept-Language` header the pages speak, else
    /// English: for the pages without a language in the path (the mock gateway's).
    pub fn from_accept_language(header: Option<&str>) -> Self {
        header
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| part.split(';').next())
            .filter_map(|tag| Self::parse(tag.trim().split('-').next().unwrap_or_default().to_ascii_lowercase().as_str()))
            .next()
            .unwrap_or(Locale::En)
    }

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Sr => "sr",
            Locale::Ru => "ru",
        }
    }

    /// The language's own name, for the language switcher.
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Sr => "Srpski",
            Locale::Ru => "Русский",
        }
    }

    /// The `lang` attribute: Serbian in Latin script.
    pub fn html_lang(self) -> &'static str {
        match self {
            Locale::Sr => "sr-Latn",
            other => other.code(),
        }
    }

    /// A moment as this language writes it, in UTC.
    pub fn date(self, at: chrono::DateTime<chrono::Utc>) -> String {
        let pattern = match self {
            Locale::En => "%Y-%m-%d %H:%M",
            Locale::Sr => "%d.%m.%Y. %H:%M",
            Locale::Ru => "%d.%m.%Y %H:%M",
        };
        at.format(pattern).to_string()
    }

    /// The pages' texts, then the operator console's.
    fn table(self) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
        let (pages, console) = match self {
            Locale::En => (en::TABLE, console::en::TABLE),
            Locale::Sr => (sr::TABLE, console::sr::TABLE),
            Locale::Ru => (ru::TABLE, console::ru::TABLE),
        };
        pages.iter().chain(console)
    }

    /// The text of `key` in this language.
    pub fn t(self, key: &str) -> &'static str {
        self.table().find(|(k, _)| *k == key).map_or(MISSING, |(_, text)| text)
    }
}

/// Fails naming the first of `keys` some language has no text for: for keys made
/// from a code (`console.entry.{kind}`), which the tables' own test cannot list.
#[cfg(test)]
pub(crate) fn assert_translated(keys: &[String]) {
    for locale in Locale::ALL {
        for key in keys {
            assert_ne!(locale.t(key), MISSING, "{key} in {}", locale.code());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(locale: Locale) -> BTreeSet<&'static str> {
        locale.table().map(|(k, _)| *k).collect()
    }

    #[test]
    fn every_key_exists_in_every_language_once_and_is_not_empty() {
        let english = keys(Locale::En);
        for locale in Locale::ALL {
            assert_eq!(keys(locale), english, "{} differs from English", locale.code());
            assert_eq!(locale.table().count(), english.len(), "{} repeats a key", locale.code());
            assert!(locale.table().all(|(_, text)| !text.trim().is_empty()), "{} has an empty text", locale.code());
        }
    }

    #[test]
    fn the_language_comes_from_the_path_or_the_browser() {
        assert_eq!(Locale::parse("sr"), Some(Locale::Sr));
        assert_eq!(Locale::parse("de"), None);
        assert_eq!(Locale::from_accept_language(Some("de-DE,ru;q=0.8,en;q=0.5")), Locale::Ru);
        assert_eq!(Locale::from_accept_language(Some("sr-Latn-RS")), Locale::Sr);
        assert_eq!(Locale::from_accept_language(None), Locale::En);
        assert_eq!(Locale::Sr.t("no.such.key"), MISSING);
    }
}
