import { pythonParser } from '../src/python/parser';
(async () => {
  const p = await pythonParser();
  const src = `import torch, torch.nn as nn\nfrom torch.distributed.fsdp import FullyShardedDataParallel as FSDP, fully_shard\nfrom . import x\nfrom __future__ import annotations\nmodel.compile(optimizer="adam", loss='mse')\nfor i, (x, y) in enumerate(dl):\n    with torch.autocast("cpu"):\n        a, b = f(*x, **y, k=1,)\n    if (i + 1) % 4 == 0: opt.step(); opt.zero_grad()\nl = [p.grad.norm().item() for p in m.parameters()]\ndef f(): return 1\nx = lambda: 2\n`;
  const t = p.parse(src);
  console.log(t.rootNode.toString());
  console.log(p.syntaxProblem("def f(:\n  pass\n"), p.syntaxProblem("x = (1,\n"), p.syntaxProblem("x = 1\n  y = 2\n"));
})();
