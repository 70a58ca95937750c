//! Generated wire types of `payment.v1`. Only this crate sees them.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

tonic::include_proto!("payment.v1");

/// For gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("payment_descriptor");
