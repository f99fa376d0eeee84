"""Training: the players and their optimizers (`gan`, `optimizers`), the alternating loop
(`loop`), what D is shown (`critic`; `augment/` with `diffaug`), the fast path (`precision`,
`fast`), the pictures written while training (`preview`), resuming (`resume`), torchrun
(`distributed`), the metrics log and progress display (`monitor`)."""
