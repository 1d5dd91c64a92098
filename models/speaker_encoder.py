"""GE2E d-vector speaker encoder (resemblyzer's network) in PyTorch, for export and reference.

3-layer LSTM (40 mel bands in, 256 hidden) → last hidden state of the top layer → Linear 256 →
ReLU → L2 norm. Loads resemblyzer's ``pretrained.pt`` (Apache-2.0) without importing resemblyzer.
Input: (batch, frames, 40) linear power mel frames from ``edge_vc.features.mel`` (resemblyzer config).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

MEL_BANDS = 40
HIDDEN = 256
EMBEDDING = 256
LAYERS = 3


class SpeakerEncoderNet(nn.Module):
    """The GE2E network; ``forward(mels)`` → L2-normalised (batch, 256) embeddings."""

    def __init__(self, n_mels: int = MEL_BANDS, hidden: int = HIDDEN, embedding: int = EMBEDDING, layers: int = LAYERS):
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    @classmethod
    def from_resemblyzer(cls, path: str | Path) -> SpeakerEncoderNet:
        """Load resemblyzer's ``pretrained.pt`` (a checkpoint with ``model_state``)."""
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
        state = checkpoint.get("model_state", checkpoint)
        # similarity_weight/bias belong to the GE2E training loss, not the encoder.
        state = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}
        net = cls()
        net.load_state_dict(state, strict=True)
        return net.eval()


class UnrolledSpeakerEncoder(nn.Module):
    """The same network with the LSTM written as plain MatMul/Sigmoid/Tanh steps.

    Converters and quantizers that cannot handle an LSTM op (TFLite full-integer, static QDQ)
    see only elementwise ops and matrix products; the input projection of each layer is one
    MatMul over all frames. Numerically identical to ``SpeakerEncoderNet`` up to float rounding.
    """

    def __init__(self, net: SpeakerEncoderNet):
        super().__init__()
        lstm = net.lstm
        self.layers = lstm.num_layers
        self.hidden = lstm.hidden_size
        for i in range(self.layers):
            w_ih = getattr(lstm, f"weight_ih_l{i}").detach()
            w_hh = getattr(lstm, f"weight_hh_l{i}").detach()
            bias = (getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}")).detach()
            self.register_buffer(f"w_ih{i}", w_ih.t().contiguous())
            self.register_buffer(f"w_hh{i}", w_hh.t().contiguous())
            self.register_buffer(f"b{i}", bias)
        self.linear = net.linear

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        batch, frames = mels.shape[0], mels.shape[1]
        x = mels
        h = mels.new_zeros(batch, self.hidden)
        for i in range(self.layers):
            gates_x = x @ getattr(self, f"w_ih{i}") + getattr(self, f"b{i}")  # (B, T, 4H)
            w_hh = getattr(self, f"w_hh{i}")
            h = mels.new_zeros(batch, self.hidden)
            c = mels.new_zeros(batch, self.hidden)
            outputs = []
            for t in range(frames):
                gates = gates_x[:, t] + h @ w_hh
                i_gate, f_gate, g_gate, o_gate = gates.chunk(4, dim=1)
                c = torch.sigmoid(f_gate) * c + torch.sigmoid(i_gate) * torch.tanh(g_gate)
                h = torch.sigmoid(o_gate) * torch.tanh(c)
                if i < self.layers - 1:
                    outputs.append(h)
            if i < self.layers - 1:
                x = torch.stack(outputs, dim=1)
        raw = torch.relu(self.linear(h))
        return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)
