DROP INDEX payments_gateway_session;
CREATE UNIQUE INDEX payments_gateway_session ON payments (gateway_name, gateway_session_id);
