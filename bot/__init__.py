"""warroom: an incident-response bot. The core knows nothing of any chat platform."""
