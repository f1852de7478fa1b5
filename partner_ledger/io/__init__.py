"""Reading what comes in: landing files, the Stripe API, the raw tables of the warehouse."""
