"""Seed the topic taxonomy (15 tags).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A snapshot of the taxonomy at this revision; a later change to the taxonomy is a new revision.
TOPICS = [
    (
        "large-language-models",
        "Large Language Models",
        "large language models (LLMs): pretraining, instruction tuning, alignment, RLHF, reasoning, prompting, in-context learning, agents, retrieval-augmented generation, LLM inference and serving, KV cache, long context",
    ),
    (
        "nlp",
        "NLP",
        "natural language processing: text classification, machine translation, question answering, summarization, language understanding, tokenization, linguistics, multilingual text, information retrieval and ranking of documents",
    ),
    (
        "computer-vision",
        "Computer Vision",
        "computer vision: images and video, object detection, segmentation, image classification, 3D vision, visual recognition, image editing and restoration",
    ),
    (
        "multimodal",
        "Multimodal",
        "multimodal learning: vision-language models (VLMs), image-text, audio-visual, combining several modalities, multimodal evaluation, text-to-image and cross-modal retrieval",
    ),
    (
        "generative-models",
        "Generative Models",
        "generative models: diffusion models, GANs, VAEs, normalizing flows, flow matching, image, video, audio or molecule generation, sampling and synthetic data",
    ),
    (
        "reinforcement-learning",
        "Reinforcement Learning",
        "reinforcement learning: agents, policies, rewards, Markov decision processes, bandits, Q-learning, policy gradients, RL for LLM reasoning, multi-agent RL, offline RL",
    ),
    (
        "robotics",
        "Robotics",
        "robotics and embodied AI: robot manipulation, locomotion, navigation, control, autonomous driving, drones and aircraft, sim-to-real",
    ),
    (
        "graph-learning",
        "Graph Learning",
        "graph learning: graph neural networks (GNNs), message passing, knowledge graphs, networks and link prediction, causal graphs and structure discovery",
    ),
    (
        "time-series",
        "Time Series",
        "time series: forecasting, temporal sequences, anomaly detection in sensor streams, spatio-temporal data",
    ),
    (
        "audio-and-speech",
        "Audio & Speech",
        "audio and speech: speech recognition, text-to-speech, speaker identification, sound classification, music and audio signal processing",
    ),
    (
        "optimization",
        "Optimization",
        "optimization: gradient descent, stochastic optimization, optimizers like Adam, convergence rates, learning dynamics, loss landscapes, training stability, hyperparameters, convex and non-convex optimization",
    ),
    (
        "theory",
        "Theory",
        "learning theory and mathematical analysis: generalization bounds, regret bounds, sample complexity, proofs, statistical learning theory, approximation theory, online learning theory",
    ),
    (
        "efficient-ml",
        "Efficient ML",
        "efficient machine learning and systems: model compression, quantization, pruning, distillation, efficient inference, distributed and parallel training, communication efficiency, GPU kernels, hardware, memory and latency reduction",
    ),
    (
        "interpretability",
        "Interpretability",
        "interpretability and explainability: mechanistic interpretability, feature attribution, probing, understanding what neural networks learn, analyzing internal representations",
    ),
    (
        "federated-learning",
        "Federated Learning",
        "federated learning: clients and servers training collaboratively on decentralized private data, privacy-preserving distributed learning, client heterogeneity, aggregation",
    ),
]

topics_table = sa.table(
    "topics", sa.column("slug", sa.String), sa.column("name", sa.String), sa.column("description", sa.Text)
)


def upgrade() -> None:
    op.bulk_insert(topics_table, [dict(slug=s, name=n, description=d) for s, n, d in TOPICS])


def downgrade() -> None:
    op.execute(topics_table.delete().where(topics_table.c.slug.in_([s for s, _, _ in TOPICS])))
