//! The machinery every optimizer shares: the [`Optimizer`] trait that training loops and
//! schedulers talk to, parameter groups, the loop over parameters that skips those without a
//! gradient, and the state dict.
//!
//! An algorithm (SGD, Adam, …) is only an [`UpdateRule`]: its per-group hyper-parameters plus the
//! rule that updates *one* parameter in place from its gradient and its per-parameter state.
//! [`GenericOptimizer`] does everything else, so `sgd.rs` or `adam.rs` reads like PyTorch's
//! pseudo-code and nothing more.

use crate::state::{from_saved, load_param_state, to_saved, GroupState, StateDict};
use nanotorch_autograd::{no_grad_guard, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, NDArray, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a training loop (and an LR scheduler) needs from any optimizer. Object safe: a
/// `Box<dyn Optimizer>` or `&mut dyn Optimizer` works whatever the element type and device.
///
/// Group indices follow the order the groups were given in. [`Optimizer::set_lr`],
/// [`Optimizer::set_momentum`] and [`Optimizer::try_lr`] return an error for an index past the
/// last group; the getters `lr` and `momentum` panic there, as slice indexing does, with a
/// message naming the method, the group and the number of groups.
pub trait Optimizer {
    /// PyTorch's class name of the algorithm (`"SGD"`, `"Adam"`, …).
    fn name(&self) -> &'static str;

    /// One update of every parameter that has a gradient (parameters whose `.grad()` is `None`
    /// are skipped). Runs under `no_grad` and writes each parameter's storage in place.
    fn step(&mut self) -> Result<()>;

    /// Clears every parameter's gradient (`set_to_none=True` semantics, PyTorch's default): the
    /// next backward writes a fresh gradient instead of adding to a zero-filled one.
    fn zero_grad(&self);

    /// Number of parameter groups.
    fn num_groups(&self) -> usize;

    /// The learning rate of group `group`.
    ///
    /// # Panics
    /// If there is no group `group`; [`Optimizer::try_lr`] returns an error instead.
    fn lr(&self, group: usize) -> f64;

    /// The learning rate of group `group`, or an error naming the group and how many there are.
    fn try_lr(&self, group: usize) -> Result<f64> {
        check_group(self.name(), "lr", group, self.num_groups())?;
        Ok(self.lr(group))
    }

    /// Sets the learning rate of group `group` (what schedulers call), or returns an error (and
    /// changes nothing) when there is no such group. Any rate is taken, as PyTorch's
    /// `param_groups[g]["lr"] = ...` takes it: a schedule may pass below zero (OneCycleLR's
    /// linear anneal stepped past its end does, in PyTorch too).
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_optim::{Optimizer, SgdOptions, SGD};
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let w = Tensor::<f32, Cpu>::zeros([2], &Cpu)?.requires_grad_(true);
    /// let mut opt = SGD::new([w], SgdOptions { lr: 0.1, ..Default::default() })?;
    /// opt.set_lr(0, 0.05)?;
    /// assert_eq!(opt.lr(0), 0.05);
    /// let err = opt.set_lr(5, 0.01).unwrap_err().to_string();
    /// assert!(err.contains("set_lr") && err.contains("group 5"), "{err}");
    /// # Ok(()) }
    /// ```
    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()>;

    /// The momentum-like coefficient of group `group`, if the algorithm has one: `momentum` for
    /// SGD and RMSprop, `beta1` for Adam and AdamW, `None` for Adagrad. OneCycleLR cycles it.
    ///
    /// # Panics
    /// If there is no group `group`.
    fn momentum(&self, group: usize) -> Option<f64>;

    /// Sets the momentum-like coefficient of group `group`; an error if the algorithm has none
    /// or there is no such group.
    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<()>;

    /// A snapshot of the hyper-parameters of every group and of every parameter's state (step
    /// counts, momentum buffers, moments), detached from the device. See [`StateDict`].
    fn state_dict(&self) -> Result<StateDict>;

    /// Restores a snapshot taken by [`Optimizer::state_dict`] of an optimizer of the same
    /// algorithm over parameters of the same shapes, in the same group structure. Checks
    /// everything before changing anything: on error the optimizer is untouched.
    fn load_state_dict(&mut self, state: &StateDict) -> Result<()>;
}

/// An error of `optimizer`'s `method` unless `group < groups`.
fn check_group(optimizer: &str, method: &str, group: usize, groups: usize) -> Result<()> {
    if group < groups {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "{optimizer} {method}: there is no parameter group {group} (the optimizer has {groups} \
             group{})",
            if groups == 1 { "" } else { "s" }
        )))
    }
}

/// One algorithm: its per-group hyper-parameters (the type implementing this trait, e.g.
/// [`crate::SgdOptions`]) and how it updates a single parameter.
///
/// The state dict is written by serde from the options and the per-parameter [`Self::State`], so
/// an algorithm writes no saving code: both derive `Serialize` and `Deserialize` (with
/// `deny_unknown_fields`, so that a state dict from another configuration is rejected), and each
/// array field of the state is marked `#[serde(with = "saved_array")]` (see
/// [`crate::state::saved_array`]).
pub trait UpdateRule<E: Float, B: Backend>:
    Clone + std::fmt::Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// PyTorch's class name (`"SGD"`), recorded in the state dict.
    const NAME: &'static str;

    /// What the algorithm remembers per parameter between steps, under PyTorch's names.
    type State: Send + Sync + Serialize + DeserializeOwned;

    /// Checks the hyper-parameters (PyTorch's constructor checks), naming the bad value.
    fn validate(&self) -> Result<()>;

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);

    /// The momentum-like coefficient, if any (see [`Optimizer::momentum`]).
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets the momentum-like coefficient; returns `false` if the algorithm has none.
    fn set_momentum(&mut self, _momentum: f64) -> bool {
        false
    }

    /// Updates `param` in place from `grad` (same shape) and this parameter's `state` (`None`
    /// before its first step; the rule creates it).
    fn update(
        &self,
        param: &NDArray<E, B>,
        grad: &NDArray<E, B>,
        state: &mut Option<Self::State>,
    ) -> Result<()>;
}

/// A set of parameters sharing hyper-parameters (PyTorch's `param_groups` entries).
#[derive(Debug, Clone)]
pub struct ParamGroup<E: Float, B: Backend, R> {
    /// The parameters (leaf tensors).
    pub params: Vec<Tensor<E, B>>,
    /// Their hyper-parameters.
    pub options: R,
}

impl<E: Float, B: Backend, R> ParamGroup<E, B, R> {
    /// A group of `params` with `options`.
    pub fn new(params: impl IntoIterator<Item = Tensor<E, B>>, options: R) -> Self {
        ParamGroup {
            params: params.into_iter().collect(),
            options,
        }
    }
}

/// An optimizer running update rule `R` over parameter groups. [`crate::SGD`], [`crate::Adam`],
/// [`crate::AdamW`], [`crate::RMSprop`] and [`crate::Adagrad`] are this type with their rule.
pub struct GenericOptimizer<E: Float, B: Backend, R: UpdateRule<E, B>> {
    groups: Vec<ParamGroup<E, B, R>>,
    /// `state[g][i]`: the state of parameter `i` of group `g` (`None` before its first step).
    state: Vec<Vec<Option<R::State>>>,
}

impl<E: Float, B: Backend, R: UpdateRule<E, B>> std::fmt::Debug for GenericOptimizer<E, B, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct(R::NAME);
        for (g, group) in self.groups.iter().enumerate() {
            s.field(
                &format!("group {g} ({} params)", group.params.len()),
                &group.options,
            );
        }
        s.finish()
    }
}

impl<E: Float, B: Backend, R: UpdateRule<E, B>> GenericOptimizer<E, B, R> {
    /// One group of `params` with `options` (PyTorch's `SGD(model.parameters(), lr=…)`).
    pub fn new(params: impl IntoIterator<Item = Tensor<E, B>>, options: R) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, options)])
    }

    /// Several groups, each with its own hyper-parameters.
    pub fn with_groups(groups: Vec<ParamGroup<E, B, R>>) -> Result<Self> {
        let mut opt = GenericOptimizer {
            groups: Vec::new(),
            state: Vec::new(),
        };
        if groups.is_empty() {
            return Err(Error::msg(format!(
                "{}: no parameter groups given",
                R::NAME
            )));
        }
        for group in groups {
            opt.add_param_group(group.params, group.options)?;
        }
        Ok(opt)
    }

    /// Adds a group (PyTorch's `add_param_group`, e.g. to unfreeze layers while fine-tuning).
    /// Errors if the group is empty, holds a non-leaf tensor, or shares a parameter with another
    /// group, or if the options are invalid.
    pub fn add_param_group(
        &mut self,
        params: impl IntoIterator<Item = Tensor<E, B>>,
        options: R,
    ) -> Result<()> {
        options.validate()?;
        let params: Vec<Tensor<E, B>> = params.into_iter().collect();
        if params.is_empty() {
            return Err(Error::msg(format!(
                "{}: got an empty parameter list",
                R::NAME
            )));
        }
        for (i, p) in params.iter().enumerate() {
            if !p.is_leaf() {
                return Err(Error::msg(format!(
                    "{}: can't optimize a non-leaf tensor (parameter {i} of the new group, made by {})",
                    R::NAME,
                    p.op_name().unwrap_or("an op")
                )));
            }
            let seen = params[..i]
                .iter()
                .chain(self.groups.iter().flat_map(|g| &g.params));
            if seen.into_iter().any(|q| q.ptr_eq(p)) {
                return Err(Error::msg(format!(
                    "{}: some parameters appear in more than one parameter group (parameter {i} of the new group)",
                    R::NAME
                )));
            }
        }
        self.state.push(params.iter().map(|_| None).collect());
        self.groups.push(ParamGroup { params, options });
        Ok(())
    }

    /// The groups, with their parameters and hyper-parameters.
    pub fn param_groups(&self) -> &[ParamGroup<E, B, R>] {
        &self.groups
    }

    /// The hyper-parameters of group `group`, to change any of them between steps (weight decay,
    /// betas, …). Panics if there is no such group.
    pub fn options_mut(&mut self, group: usize) -> &mut R {
        &mut self.groups[group].options
    }

    /// Every parameter, group after group.
    pub fn params(&self) -> impl Iterator<Item = &Tensor<E, B>> {
        self.groups.iter().flat_map(|g| &g.params)
    }

    /// The state of parameter `index` of group `group`, if it has taken a step.
    pub fn param_state(&self, group: usize, index: usize) -> Option<&R::State> {
        self.state.get(group)?.get(index)?.as_ref()
    }
}

impl<E: Float, B: Backend, R: UpdateRule<E, B>> Optimizer for GenericOptimizer<E, B, R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn step(&mut self) -> Result<()> {
        let _no_grad = no_grad_guard();
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            for (param, state) in group.params.iter().zip(states.iter_mut()) {
                let Some(grad) = param.grad() else {
                    continue;
                };
                if grad.shape() != param.shape() {
                    return Err(Error::ShapeMismatch {
                        op: R::NAME,
                        what: "gradient shape differs from the parameter's",
                        lhs: param.shape().clone(),
                        rhs: grad.shape().clone(),
                    });
                }
                group.options.update(param.array(), grad.array(), state)?;
            }
        }
        Ok(())
    }

    fn zero_grad(&self) {
        for p in self.params() {
            p.set_grad(None);
        }
    }

    fn num_groups(&self) -> usize {
        self.groups.len()
    }

    fn lr(&self, group: usize) -> f64 {
        self.try_lr(group).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_lr(&self, group: usize) -> Result<f64> {
        check_group(R::NAME, "lr", group, self.groups.len())?;
        Ok(self.groups[group].options.lr())
    }

    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        check_group(R::NAME, "set_lr", group, self.groups.len())?;
        self.groups[group].options.set_lr(lr);
        Ok(())
    }

    fn momentum(&self, group: usize) -> Option<f64> {
        check_group(R::NAME, "momentum", group, self.groups.len())
            .unwrap_or_else(|e| panic!("{e}"));
        self.groups[group].options.momentum()
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) -> Result<()> {
        check_group(R::NAME, "set_momentum", group, self.groups.len())?;
        if self.groups[group].options.set_momentum(momentum) {
            Ok(())
        } else {
            Err(Error::msg(format!(
                "{} has no momentum or beta1 to set",
                R::NAME
            )))
        }
    }

    fn state_dict(&self) -> Result<StateDict> {
        let saved = |what: &str, r: Result<_>| {
            r.map_err(|e| Error::msg(format!("{} state_dict: {what}: {e}", R::NAME)))
        };
        let mut param_groups = Vec::with_capacity(self.groups.len());
        let mut state = BTreeMap::new();
        let mut next_id = 0;
        for (group, states) in self.groups.iter().zip(&self.state) {
            let mut ids = Vec::with_capacity(group.params.len());
            for s in states {
                if let Some(s) = s {
                    state.insert(next_id, saved("parameter state", to_saved(s))?);
                }
                ids.push(next_id);
                next_id += 1;
            }
            param_groups.push(GroupState {
                options: saved("hyper-parameters", to_saved(&group.options))?,
                params: ids,
            });
        }
        Ok(StateDict {
            optimizer: R::NAME.to_string(),
            param_groups,
            state,
        })
    }

    fn load_state_dict(&mut self, saved: &StateDict) -> Result<()> {
        let fail = |msg: String| Err(Error::msg(format!("{} load_state_dict: {msg}", R::NAME)));
        if saved.optimizer != R::NAME {
            return fail(format!(
                "the state dict was written by {}, not {}",
                saved.optimizer,
                R::NAME
            ));
        }
        if saved.param_groups.len() != self.groups.len() {
            return fail(format!(
                "the state dict has {} parameter groups, the optimizer {}",
                saved.param_groups.len(),
                self.groups.len()
            ));
        }
        // Saved ids map to parameters by position, group by group (as in PyTorch).
        let mut position: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        let mut options = Vec::with_capacity(self.groups.len());
        for (g, (sg, group)) in saved.param_groups.iter().zip(&self.groups).enumerate() {
            if sg.params.len() != group.params.len() {
                return fail(format!(
                    "group {g} has {} parameters in the state dict and {} in the optimizer",
                    sg.params.len(),
                    group.params.len()
                ));
            }
            for (i, &id) in sg.params.iter().enumerate() {
                if position.insert(id, (g, i)).is_some() {
                    return fail(format!("parameter id {id} appears twice"));
                }
            }
            let o: R = from_saved(&sg.options, "hyper-parameter")
                .map_err(|e| Error::msg(format!("{} load_state_dict: group {g}: {e}", R::NAME)))?;
            o.validate()?;
            options.push(o);
        }
        let mut state: Vec<Vec<Option<R::State>>> = self
            .groups
            .iter()
            .map(|g| g.params.iter().map(|_| None).collect())
            .collect();
        for (id, ps) in &saved.state {
            let Some(&(g, i)) = position.get(id) else {
                return fail(format!("state for parameter id {id}, which no group lists"));
            };
            let s = load_param_state(ps, self.groups[g].params[i].array()).map_err(|e| {
                Error::msg(format!(
                    "{} load_state_dict: group {g}, parameter {i}: {e}",
                    R::NAME
                ))
            })?;
            state[g][i] = Some(s);
        }
        for (group, o) in self.groups.iter_mut().zip(options) {
            group.options = o;
        }
        self.state = state;
        Ok(())
    }
}
