"""The caption encoder of `conditioning=text`: token ids → one embedding per caption.

Reed et al. (2016) use a pretrained char-CNN-RNN; nothing can be downloaded here, so the encoder
is small and trained jointly with the GAN from the captions of `gancli.conditioning.captions`.
It is recurrent rather than a bag of words because word order carries meaning: "red seven green
one blue four" and "red one green seven blue four" are different Stacked MNIST classes made of
the same words, and "t shirt" is not "shirt". A bidirectional GRU reads the caption both ways, and
the mean of its outputs over the caption's words (padding excluded, and each direction starts at
the caption's first or last word, so the same caption padded to any length gives the same
embedding) is projected to `out_dim` and layer-normalised. The normalisation matters: trained by
G's loss alone, an unnormalised embedding grew without bound, and as the input of conditional
batch norm's scales it drove G to one constant image within 150 steps on digits; normalised, the
same run trains.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD = 0


class TextEncoder(nn.Module):
    """N×L token ids (0 = padding, at the end of each row) → N×`out_dim` caption embeddings:
    embedding → bidirectional single-layer GRU → mean over the words → linear → layer norm
    (zero mean, unit variance per caption, no learned scale)."""

    def __init__(
        self, vocab_size: int, out_dim: int, embed_dim: int = 64, hidden: int = 128
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.rnn = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, out_dim)
        self.norm = nn.LayerNorm(out_dim, elementwise_affine=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        # A row of only padding counts as one (padding) word rather than breaking packing.
        lengths = (tokens != PAD).sum(dim=1).clamp(min=1)
        total = (
            self._packed(tokens, lengths)
            if tokens.device.type == "cpu"
            else self._unpacked(tokens, lengths)
        )
        return self.norm(self.proj(total / lengths.unsqueeze(1).to(total.dtype)))

    def _packed(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The sum of the GRU's outputs over each caption's words, through packed sequences:
        the GRU reads no padding. Packing takes the lengths on the host, free on the CPU; on
        an accelerator that copy would sync every call (`_unpacked` avoids it)."""
        packed = pack_padded_sequence(
            self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)  # zeros past length
        return out.sum(dim=1)

    def _unpacked(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`_packed`'s values with nothing read on the host, at the price of a GRU pass over
        twice the batch (2x the CPU time, hence the CPU packs). Each GRU direction must start
        at a word of the caption, not in its padding: left to right on the captions as given,
        right to left on the same captions padded on the left, both in one call."""
        n, length = tokens.shape
        steps = torch.arange(length, device=tokens.device)
        words = (steps < lengths.unsqueeze(1)).unsqueeze(2)  # N×L×1: each caption's words
        left_padded = tokens.gather(1, (steps - length + lengths.unsqueeze(1)) % length)
        out, _ = self.rnn(self.embed(torch.cat([tokens, left_padded])))
        rightward, leftward = out[:n, :, : self.rnn.hidden_size], out[n:, :, self.rnn.hidden_size :]
        return torch.cat([(rightward * words).sum(1), (leftward * words.flip(1)).sum(1)], dim=1)
