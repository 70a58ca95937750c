//! HTTP routes beside gRPC: webhooks and the mock gateway's hosted page.

pub mod balance;
pub mod mock_pages;
pub mod onboarding;
pub mod webhooks;
