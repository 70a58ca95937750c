//! Who is calling. The API edge verifies the token; use cases check roles and owners.

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

    /// A user acts only for themself; privileged callers for anybody.
    pub fn ensure_acts_for(&self, user_id: &str) -> Result<(), crate::AppError> {
        if self.is_privileged() || self.subject == user_id {
            Ok(())
        } else {
            Err(crate::AppError::PermissionDenied("the caller may act only on their own payments".into()))
        }
    }

    /// Admins and services read every account; a merchant only the accounts linked to
    /// its subject (the account id, or `metadata.user_id`).
    pub fn ensure_reads_account(&self, account: &domain::accounts::ConnectedAccount) -> Result<(), crate::AppError> {
        if self.is_privileged() || (self.has_role(Role::Merchant) && account.is_linked_to(&self.subject)) {
            Ok(())
        } else {
            Err(crate::AppError::PermissionDenied("the caller may read only connected accounts linked to it".into()))
        }
    }

    pub fn ensure_service(&self) -> Result<(), crate::AppError> {
        if self.is_privileged() {
            Ok(())
        } else {
            Err(crate::AppError::PermissionDenied("this method needs the service or admin role".into()))
        }
    }
}
