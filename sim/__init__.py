"""orgsim: an agent-based simulator of innovation in organisations."""
