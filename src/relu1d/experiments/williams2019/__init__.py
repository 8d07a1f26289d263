"""Williams et al. 2019: experiments, registered on import."""

from .adaptive_regime import *  # noqa: F401,F403
from .kernel_regime import *  # noqa: F401,F403
