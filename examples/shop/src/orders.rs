//! The shop's own orders, in memory: an example keeps them no longer than it runs.
//! The money side of each (paid, held, refunded) is read from the service.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    /// The buyer's cookie id.
    pub buyer: String,
    pub vendor: String,
    /// The vendor's connected account, whose transfer pays for the order.
    pub account_id: String,
    pub product: String,
    pub price: String,
    pub currency: String,
    pub payment_id: String,
    pub checkout_url: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct Orders(Mutex<Vec<Order>>);

impl Orders {
    fn with<T>(&self, read: impl FnOnce(&mut Vec<Order>) -> T) -> T {
        read(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Keeps the order unless one with its id exists (a form sent twice).
    pub fn add(&self, order: Order) {
        self.with(|orders| {
            if !orders.iter().any(|o| o.id == order.id) {
                orders.push(order);
            }
        });
    }

    pub fn get(&self, id: Uuid) -> Option<Order> {
        self.with(|orders| orders.iter().find(|o| o.id == id).cloned())
    }

    /// Newest first; every buyer's when `buyer` is None (the operator).
    pub fn list(&self, buyer: Option<&str>) -> Vec<Order> {
        self.with(|orders| orders.iter().rev().filter(|o| buyer.is_none_or(|b| o.buyer == b)).cloned().collect())
    }
}
