//! `payment.v1.EventService`.

use app::events_ports::{Delivery, EventEndpoint, OutboxEvent};
use app::{App, EndpointUpdate};
use tonic::{Request, Response, Status};

use super::{page, principal};
use crate::convert::timestamp;
use crate::error::to_status;
use crate::proto::{self, event_service_server::EventService};

pub struct EventApi {
    app: App,
}

impl EventApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

fn endpoint(e: EventEndpoint) -> proto::EventEndpoint {
    proto::EventEndpoint {
        id: e.id.to_string(),
        url: e.url,
        description: e.description,
        event_types: e.subscription.types().to_vec(),
        enabled: e.enabled,
        created_at: Some(timestamp(e.created_at)),
        updated_at: Some(timestamp(e.updated_at)),
    }
}

fn event(e: OutboxEvent) -> proto::Event {
    proto::Event {
        id: e.id.to_string(),
        r#type: e.event_type.as_str().to_owned(),
        object_id: e.object_id.to_string(),
        data_json: e.payload.to_string(),
        created_at: Some(timestamp(e.created_at)),
    }
}

fn delivery(d: Delivery) -> proto::EventDelivery {
    proto::EventDelivery {
        event_id: d.event_id.to_string(),
        endpoint_id: d.endpoint_id.to_string(),
        event_type: d.event_type.as_str().to_owned(),
        status: d.status.as_str().to_owned(),
        attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
        next_attempt_at: Some(timestamp(d.next_attempt_at)),
        last_status_code: d.last_status_code.and_then(|c| i32::try_from(c).ok()).unwrap_or_default(),
        last_error: d.last_error.unwrap_or_default(),
        delivered_at: d.delivered_at.map(timestamp),
    }
}

fn total(total: i64) -> i32 {
    i32::try_from(total).unwrap_or(i32::MAX)
}

#[tonic::async_trait]
impl EventService for EventApi {
    async fn create_event_endpoint(
        &self,
        request: Request<proto::CreateEventEndpointRequest>,
    ) -> Result<Response<proto::CreateEventEndpointResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let created =
            self.app.create_event_endpoint(&principal, &r.url, &r.description, &r.event_types).await.map_err(to_status)?;
        let secret = created.secret.expose().to_owned();
        Ok(Response::new(proto::CreateEventEndpointResponse { endpoint: Some(endpoint(created)), secret }))
    }

    async fn get_event_endpoint(
        &self,
        request: Request<proto::GetEventEndpointRequest>,
    ) -> Result<Response<proto::GetEventEndpointResponse>, Status> {
        let principal = principal(&request)?;
        let found = self.app.event_endpoint(&principal, &request.get_ref().endpoint_id).await.map_err(to_status)?;
        Ok(Response::new(proto::GetEventEndpointResponse { endpoint: Some(endpoint(found)) }))
    }

    async fn list_event_endpoints(
        &self,
        request: Request<proto::ListEventEndpointsRequest>,
    ) -> Result<Response<proto::ListEventEndpointsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (endpoints, count) = self.app.event_endpoints(&principal, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListEventEndpointsResponse {
            endpoints: endpoints.into_iter().map(endpoint).collect(),
            total: total(count),
        }))
    }

    async fn update_event_endpoint(
        &self,
        request: Request<proto::UpdateEventEndpointRequest>,
    ) -> Result<Response<proto::UpdateEventEndpointResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.into_inner();
        let update = EndpointUpdate {
            url: r.url,
            description: r.description,
            event_types: r.event_types.map(|list| list.event_types),
            enabled: r.enabled,
        };
        let updated = self.app.update_event_endpoint(&principal, &r.endpoint_id, update).await.map_err(to_status)?;
        Ok(Response::new(proto::UpdateEventEndpointResponse { endpoint: Some(endpoint(updated)) }))
    }

    async fn delete_event_endpoint(
        &self,
        request: Request<proto::DeleteEventEndpointRequest>,
    ) -> Result<Response<proto::DeleteEventEndpointResponse>, Status> {
        let principal = principal(&request)?;
        self.app.delete_event_endpoint(&principal, &request.get_ref().endpoint_id).await.map_err(to_status)?;
        Ok(Response::new(proto::DeleteEventEndpointResponse { success: true }))
    }

    async fn list_events(
        &self,
        request: Request<proto::ListEventsRequest>,
    ) -> Result<Response<proto::ListEventsResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (events, count) =
            self.app.events(&principal, &r.object_id, &r.r#type, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListEventsResponse { events: events.into_iter().map(event).collect(), total: total(count) }))
    }

    async fn list_event_deliveries(
        &self,
        request: Request<proto::ListEventDeliveriesRequest>,
    ) -> Result<Response<proto::ListEventDeliveriesResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let (deliveries, count) =
            self.app.event_deliveries(&principal, &r.endpoint_id, page(r.limit, r.offset)?).await.map_err(to_status)?;
        Ok(Response::new(proto::ListEventDeliveriesResponse {
            deliveries: deliveries.into_iter().map(delivery).collect(),
            total: total(count),
        }))
    }

    async fn redeliver_event(
        &self,
        request: Request<proto::RedeliverEventRequest>,
    ) -> Result<Response<proto::RedeliverEventResponse>, Status> {
        let principal = principal(&request)?;
        let r = request.get_ref();
        let made_due = self.app.redeliver_event(&principal, &r.event_id, &r.endpoint_id).await.map_err(to_status)?;
        Ok(Response::new(proto::RedeliverEventResponse { deliveries: i32::try_from(made_due).unwrap_or(i32::MAX) }))
    }
}
