"""The classic first RNN: learn to map "hell" to "ello", one character ahead.

Characters h, e, l, o are one-hot vectors; a one-layer Elman RNN (rnnkit.nn.RNN) reads "hell" and at
each step predicts the next character through a linear layer, trained with cross-entropy and Adam
(lr 0.1). Each iteration prints the loss and the current prediction; the last line is the
prediction, "ello".

    python examples/hello.py
"""

import torch
from torch import nn

from rnnkit.nn import RNN

CHARS = "helo"
INDEX = {c: i for i, c in enumerate(CHARS)}


def one_hot(text: str) -> torch.Tensor:
    """'hell' -> (1, 4, 4): batch of one, four steps, one-hot over h, e, l, o."""
    return torch.eye(len(CHARS))[[INDEX[c] for c in text]].unsqueeze(0)


def main(iterations: int = 30, hidden_size: int = 8, seed: int = 0) -> str:
    torch.manual_seed(seed)
    rnn = RNN(input_size=len(CHARS), hidden_size=hidden_size, batch_first=True)
    head = nn.Linear(hidden_size, len(CHARS))
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.1)
    x = one_hot("hell")  # (1, 4, 4)
    target = torch.tensor([INDEX[c] for c in "ello"])  # (4,)
    prediction = ""
    for iteration in range(1, iterations + 1):
        outputs, _ = rnn(x)  # (1, 4, H)
        logits = head(outputs).squeeze(0)  # (4, 4)
        loss = nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        prediction = "".join(CHARS[i] for i in logits.argmax(-1).tolist())
        print(f"iteration {iteration:2d}  loss {loss.item():.4f}  prediction {prediction!r}")
    print(prediction)
    return prediction


if __name__ == "__main__":
    main()
