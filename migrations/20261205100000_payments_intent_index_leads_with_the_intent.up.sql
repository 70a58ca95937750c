-- The intent index led with gateway_name, like payments_gateway_session. A lookup by
-- (gateway_name, session) planned on a nearly empty table could pick either index
-- (equal costs), and a pooled connection kept that plan as the table grew: with the
-- intent index only gateway_name narrows it, so every lookup read every payment of the
-- gateway (checkouts fell from 544/s to 210/s after 16,000 payments). Led by the
-- intent, it serves only the lookups that name one.
DROP INDEX payments_gateway_intent;
CREATE INDEX payments_gateway_intent ON payments (gateway_payment_intent_id, gateway_name);
