"""jepa-lab: LLM-JEPA for teaching and analysis."""

__version__ = "0.1.0"
