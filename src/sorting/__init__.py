"""Physical line domain: item tracking, chute plan, decision deadline; pure and clocked."""
