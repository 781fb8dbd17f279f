"""Churn simulator: realistic data in the input contract, with ground truth. It stands on
the data contract alone; nothing below the stages imports it.

Customers carry latent traits (price sensitivity, service tolerance, value, credit risk,
relocation hazard, ...) and move through the lifecycle stages of ../shared/domain.md.
Week by week they buy, meet service failures, complain (rarely), pay, answer surveys and
react to competitor offers; each week's churn hazard is a sum of one component per
documented cause, so every churn has a true cause. Only behaviour reaches the contract's
tables; traits, hazards and causes go to the ground-truth folder.
"""
