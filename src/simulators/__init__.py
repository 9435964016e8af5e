"""Real-protocol device simulators, line physics, X-ray synthesis and scenarios."""
