//! One line from an error and its causes, for messages that users read.

use std::error::Error;

/// The error's message followed by each cause's, joined by ": ". A cause whose message the one
/// before already contains is left out, since many wrappers repeat their source's words.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut previous = line.clone();
    let mut cause = error.source();
    while let Some(current) = cause {
        let message = current.to_string();
        if !message.is_empty() && !previous.contains(&message) {
            line.push_str(": ");
            line.push_str(&message);
        }
        previous = message;
        cause = current.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Layer {
        message: &'static str,
        source: Option<Box<Layer>>,
    }

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.message)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source
                .as_deref()
                .map(|layer| layer as &(dyn Error + 'static))
        }
    }

    fn chain(messages: &[&'static str]) -> Layer {
        messages
            .iter()
            .rev()
            .fold(None, |source, message| {
                Some(Layer {
                    message,
                    source: source.map(Box::new),
                })
            })
            .expect("at least one message")
    }

    #[test]
    fn joins_every_cause_in_order() {
        let error = chain(&[
            "dispatch failure",
            "io error",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            error_chain(&error),
            "dispatch failure: io error: Connection refused (os error 111)"
        );
    }

    #[test]
    fn skips_causes_their_wrapper_already_says() {
        let error = chain(&["timed out: after 1s", "after 1s", "", "deadline"]);
        assert_eq!(error_chain(&error), "timed out: after 1s: deadline");
    }

    #[test]
    fn an_error_without_causes_is_its_message() {
        assert_eq!(error_chain(&chain(&["no route"])), "no route");
    }
}
