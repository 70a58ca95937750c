//! Why a token was refused: a kind that a page can say in its own language, beside
//! the API's message (English, safe to send, never the token).

/// What is wrong with a token, in the terms a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// No token at all.
    Missing,
    /// Past its `exp`.
    Expired,
    /// Before its `nbf`, or issued in the future.
    NotYetValid,
    /// Made for another service (`iss`, `aud`).
    WrongIssuer,
    /// Not signed by a key this service trusts.
    BadSignature,
    /// What it says is not acceptable (no subject, an unknown role, too long a life).
    BadClaims,
    /// Not a token at all.
    Malformed,
}

impl TokenProblem {
    pub const ALL: [TokenProblem; 7] = [
        TokenProblem::Missing,
        TokenProblem::Expired,
        TokenProblem::NotYetValid,
        TokenProblem::WrongIssuer,
        TokenProblem::BadSignature,
        TokenProblem::BadClaims,
        TokenProblem::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenProblem::Missing => "missing",
            TokenProblem::Expired => "expired",
            TokenProblem::NotYetValid => "not_yet_valid",
            TokenProblem::WrongIssuer => "wrong_issuer",
            TokenProblem::BadSignature => "bad_signature",
            TokenProblem::BadClaims => "bad_claims",
            TokenProblem::Malformed => "malformed",
        }
    }
}

/// A refused token: the problem, and the API's message for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    pub problem: TokenProblem,
    message: String,
}

impl TokenRefusal {
    pub(crate) fn new(problem: TokenProblem, message: impl Into<String>) -> Self {
        Self { problem, message: message.into() }
    }
}

/// The API's message.
impl std::fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TokenRefusal {}
