"""Emotion events: rules on people (tracks) and crowds over time (``rules``), evaluated where a chunk's results
land (``evaluator``), stored and listed (``store``), delivered at least once to webhooks (``webhook``) and MQTT
(``mqtt``) from the change feed's outbox (``dispatcher``); a run's rules bound to its sources and its changes
delivered while it runs (``run``)."""
