"""The public model kit: everything a model author needs, from one module.

```python
from benchmark.kit import (TrainedBagModel, TrainSettings, positive, fraction, register_model,
                           check_model)
```

- the contract: `BagModel`, `BagScores`, `ModelContext`, `NotFittedError`, `checked_drop`,
  `normal_bags` (benchmark.model_api); the base most models are written on, `TrainedBagModel`
  (benchmark.trained_model), its `TrainSettings`, `BagBatch`, `make_batch` and the shared
  `train_network` (benchmark.trainer); `CountsModel` for torch-free models on template counts;
- the data a model sees: `BagSet`, `TemplateTable`, `PreparedDataset`, `NO_DROP`
  (benchmark.data.bagset); the tiny planted dataset `make_tiny_dataset` (benchmark.tiny_data);
- typed, range-checked config fields: `positive`, `non_negative`, `fraction`, `option`,
  `option_at_least` (benchmark.configs);
- capabilities the harness asks for with isinstance (benchmark.capabilities): `Persistable`
  (`TorchStateModel`, `TorchFreeModel`), `Adaptable`, `OpenVocabulary`, `HasHistory`;
- the registry: `register_model`, `unregister_model`, `list_models`, `model_class`,
  `resolve_config`, `get_model`;
- the conformance kit (benchmark.conformance): `check_model(name)` and
  `parametrize_with_checks(names)` for pytest, `ConformanceError`.

A model in any package (not only `models/` or `baselines/`) passes the kit once its module is
imported (its `@register_model` runs): tests/models/test_model_kit.py builds one in a temporary
package.
"""

from benchmark.capabilities import (
    Adaptable,
    HasHistory,
    OpenVocabulary,
    Persistable,
    TorchFreeModel,
    TorchStateModel,
)
from benchmark.configs import fraction, non_negative, option, option_at_least, positive
from benchmark.conformance import ConformanceError, check_model, parametrize_with_checks
from benchmark.count_models import CountsModel
from benchmark.data.bagset import NO_DROP, BagSet, PreparedDataset, TemplateTable
from benchmark.model_api import (
    BagModel,
    BagScores,
    ModelContext,
    NotFittedError,
    checked_drop,
    normal_bags,
)
from benchmark.registry import (
    get_model,
    list_models,
    model_class,
    register_model,
    resolve_config,
    unregister_model,
)
from benchmark.tiny_data import make_tiny_dataset
from benchmark.trained_model import TrainedBagModel
from benchmark.trainer import BagBatch, TrainSettings, make_batch, train_network

__all__ = [
    "NO_DROP", "Adaptable", "BagBatch", "BagModel", "BagScores", "BagSet", "ConformanceError",
    "CountsModel", "HasHistory", "ModelContext", "NotFittedError", "OpenVocabulary",
    "Persistable", "PreparedDataset", "TemplateTable", "TorchFreeModel", "TorchStateModel",
    "TrainSettings", "TrainedBagModel", "check_model", "checked_drop", "fraction", "get_model",
    "list_models", "make_batch", "make_tiny_dataset", "model_class", "non_negative",
    "normal_bags", "option", "option_at_least", "parametrize_with_checks", "positive",
    "register_model", "resolve_config", "train_network", "unregister_model",
]
