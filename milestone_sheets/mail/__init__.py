"""Review emails: compose (who gets what), render (templates to messages), send (SMTP),
and the ledger of what was sent."""
