DROP INDEX payments_gateway_intent;
CREATE INDEX payments_gateway_intent ON payments (gateway_name, gateway_payment_intent_id);
