//! What the shop sells: the demo vendors' products, read from the demo data file the
//! service loaded; each vendor's connected account is found over gRPC by the
//! fixture key the service keeps in the account's metadata.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

use crate::error::ShopError;
use crate::service::Service;

/// The account metadata key that names the fixture vendor (the service's `fixtures.rs`).
const FIXTURE_METADATA_KEY: &str = "fixture";

#[derive(Debug, Clone, Deserialize)]
pub struct Vendor {
    pub key: String,
    pub name: String,
    pub products: Vec<Product>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Decimal string, as the API speaks it.
    pub price: String,
    pub currency: String,
}

#[derive(Deserialize)]
struct File {
    vendors: Vec<Vendor>,
}

pub struct Catalogue {
    pub vendors: Vec<Vendor>,
    /// Vendor key → connected account id, once found.
    accounts: Mutex<BTreeMap<String, String>>,
}

impl Catalogue {
    pub fn read(path: &Path) -> Result<Self, ShopError> {
        let problem = |problem: String| ShopError::Catalogue { path: path.display().to_string(), problem };
        let text = std::fs::read_to_string(path).map_err(|e| problem(format!("{e} (set SHOP_CATALOGUE_PATH)")))?;
        let file: File = serde_json::from_str(&text).map_err(|e| problem(e.to_string()))?;
        Ok(Self { vendors: file.vendors, accounts: Mutex::new(BTreeMap::new()) })
    }

    /// The vendor and product of a SKU.
    pub fn product(&self, sku: &str) -> Option<(&Vendor, &Product)> {
        self.vendors.iter().find_map(|v| v.products.iter().find(|p| p.sku == sku).map(|p| (v, p)))
    }

    /// The vendor's connected account id; asks the service until it has one.
    pub async fn account(&self, service: &Service, vendor: &Vendor) -> Result<String, ShopError> {
        if let Some(id) = self.accounts.lock().unwrap_or_else(PoisonError::into_inner).get(&vendor.key) {
            return Ok(id.clone());
        }
        let found: BTreeMap<String, String> = service
            .accounts()
            .await?
            .into_iter()
            .filter_map(|a| a.metadata.get(FIXTURE_METADATA_KEY).cloned().map(|key| (key, a.id)))
            .collect();
        let id = found.get(&vendor.key).cloned().ok_or_else(|| ShopError::VendorMissing(vendor.key.clone()))?;
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner).extend(found);
        Ok(id)
    }
}
