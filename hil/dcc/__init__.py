"""The DCC side: service requests, eligibility, command building (issue 03 grows this)."""
