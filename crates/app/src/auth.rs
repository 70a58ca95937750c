//! Who is calling. The API edge verifies the token; use cases check the role before
//! loading anything, then the owner.

use crate::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Merchant,
    Admin,
    Service,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Role::User),
            "merchant" => Some(Role::Merchant),
            "admin" => Some(Role::Admin),
            "service" => Some(Role::Service),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Merchant => "merchant",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }
}

/// The verified caller: `sub` of the token and its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub roles: Vec<Role>,
}

impl Principal {
    /// Admins and trusted services act for anybody.
    pub fn is_privileged(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, Role::Admin | Role::Service))
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Wallet and own-payment methods: a token's `sub` alone is no user (a merchant's
    /// or a role-less token names someone too), so they need the `user` role.
    pub fn ensure_user(&self) -> Result<(), AppError> {
        if self.is_privileged() || self.has_role(Role::User) {
            Ok(())
        } else {
            Err(AppError::PermissionDenied("this method needs the user, admin or service role".into()))
        }
    }

    /// For a user id the caller names itself: a user acts only for themself;
    /// privileged callers for anybody.
    pub fn ensure_acts_for(&self, user_id: &str) -> Result<(), AppError> {
        self.ensure_user()?;
        if self.sees_user(user_id) {
            Ok(())
        } else {
            Err(AppError::PermissionDenied("the caller may act only on their own payments and wallet".into()))
        }
    }

    /// Whether the caller may see what belongs to `user_id` (a payment, a wallet).
    pub fn sees_user(&self, user_id: &str) -> bool {
        self.is_privileged() || (self.has_role(Role::User) && self.subject == user_id)
    }

    /// Methods about connected accounts and their money: merchants read their own.
    pub fn ensure_merchant(&self) -> Result<(), AppError> {
        if self.is_privileged() || self.has_role(Role::Merchant) {
            Ok(())
        } else {
            Err(AppError::PermissionDenied("this method needs the merchant, admin or service role".into()))
        }
    }

    /// Admins and services see every account; a merchant only the accounts linked to
    /// its subject (the account id, or `metadata.user_id`).
    pub fn sees_account(&self, account: &domain::accounts::ConnectedAccount) -> bool {
        self.is_privileged() || (self.has_role(Role::Merchant) && account.is_linked_to(&self.subject))
    }

    /// Escrow holds are read by their buyer (user) and merchant: a token with no
    /// role reads nothing.
    pub fn ensure_any_role(&self) -> Result<(), AppError> {
        if self.roles.is_empty() {
            Err(AppError::PermissionDenied("this method needs a role (user, merchant, admin or service)".into()))
        } else {
            Ok(())
        }
    }

    /// Operator actions that only a person may take (closing a dispute by hand).
    pub fn ensure_admin(&self) -> Result<(), AppError> {
        if self.has_role(Role::Admin) {
            Ok(())
        } else {
            Err(AppError::PermissionDenied("this method needs the admin role".into()))
        }
    }

    pub fn ensure_service(&self) -> Result<(), AppError> {
        if self.is_privileged() {
            Ok(())
        } else {
            Err(AppError::PermissionDenied("this method needs the service or admin role".into()))
        }
    }
}

/// An object loaded by a client's id that the caller may not see is answered like
/// one that does not exist, with the same message: the id tells nothing about it.
pub(crate) fn visible<T>(object: Option<T>, what: &'static str, sees: impl FnOnce(&T) -> bool) -> Result<T, AppError> {
    object.filter(|object| sees(object)).ok_or(AppError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, roles: &[Role]) -> Principal {
        Principal { subject: subject.into(), roles: roles.to_vec() }
    }

    #[test]
    fn only_a_user_acts_on_its_own_wallet_and_payments() {
        assert!(caller("u-1", &[Role::User]).ensure_acts_for("u-1").is_ok());
        assert!(caller("u-1", &[Role::User]).ensure_acts_for("u-2").is_err());
        for roles in [&[][..], &[Role::Merchant]] {
            let other = caller("u-1", roles);
            assert!(matches!(other.ensure_acts_for("u-1"), Err(AppError::PermissionDenied(_))), "{roles:?}");
            assert!(!other.sees_user("u-1"), "{roles:?}");
        }
        assert!(caller("ops", &[Role::Admin]).ensure_acts_for("u-1").is_ok());
        assert!(caller("backend", &[Role::Service]).sees_user("u-1"));
    }

    #[test]
    fn what_the_caller_may_not_see_is_not_found_like_what_is_absent() {
        let hidden = visible(Some("x"), "payment", |_| false).map_err(|e| e.to_string());
        let absent = visible(None::<&str>, "payment", |_| true).map_err(|e| e.to_string());
        assert_eq!(hidden, absent);
        assert!(matches!(visible(Some(1), "payment", |_| true), Ok(1)));
    }
}
