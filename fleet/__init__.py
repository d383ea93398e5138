"""wardwatch fleet: the operators' side (inventory, targets, rollout, readiness, diagnosis)."""
