//! Guards and computed values: a small, safe expression language.
//!
//! Expressions are evaluated by `evalexpr` against a read-only context: no
//! assignment, no loops, no IO. Identifiers are dotted paths
//! (`input.rule_set`, `step.apply.form.applied_on`, `var.probation_end`,
//! `subject.birth_date`). Dates are strings `YYYY-MM-DD`; these functions
//! work on them:
//!
//! - `age(birth, on)`: whole years from `birth` to `on`.
//! - `days_between(a, b)`: days from `a` to `b`.
//! - `months_between(a, b)`: whole months from `a` to `b`.
//! - `add_months(date, n)`: `date` plus `n` months, clamped to the month end.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use evalexpr::{
    ContextWithMutableFunctions, ContextWithMutableVariables, DefaultNumericTypes, EvalexprError,
    Function, HashMapContext, Node, Value,
};
use serde::{Deserialize, Serialize};

use crate::calendar::add_months;

/// A parsed expression, kept as its source text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Expr {
    /// The source text.
    pub source: String,
}

/// Names of the functions expressions may call.
pub const FUNCTIONS: &[&str] = &["age", "days_between", "months_between", "add_months", "len"];

impl Expr {
    /// Parses an expression; the error says what is wrong.
    pub fn parse(source: &str) -> Result<Expr, String> {
        let node = compile(source)?;
        for f in node.iter_function_identifiers() {
            if !FUNCTIONS.contains(&f) && !is_builtin(f) {
                return Err(format!(
                    "未知的函数「{f}」（可用：{}）",
                    FUNCTIONS.join("、")
                ));
            }
        }
        Ok(Expr {
            source: source.to_string(),
        })
    }

    /// The variables the expression reads.
    pub fn variables(&self) -> Vec<String> {
        compile(&self.source)
            .map(|n| n.iter_variable_identifiers().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Evaluates to a JSON value.
    pub fn eval(&self, scope: &Scope) -> Result<serde_json::Value, String> {
        let node = compile(&self.source)?;
        let ctx = scope.context();
        let v = node
            .eval_with_context(&ctx)
            .map_err(|e| explain(&self.source, e))?;
        Ok(to_json(v))
    }

    /// Evaluates to a boolean.
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, String> {
        match self.eval(scope)? {
            serde_json::Value::Bool(b) => Ok(b),
            other => Err(format!(
                "表达式「{}」的结果应为真或假（`true`/`false`），实际是 {other}",
                self.source
            )),
        }
    }
}

fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "min" | "max" | "floor" | "round" | "ceil" | "if" | "contains" | "typeof"
    ) || name.starts_with("str::")
        || name.starts_with("math::")
}

/// Longest expression accepted, in characters.
pub const MAX_EXPR_CHARS: usize = 500;
/// Deepest nesting of parentheses accepted.
pub const MAX_EXPR_DEPTH: usize = 16;

/// Refuses expressions too long or too deeply nested: the parser and the
/// evaluator recurse once per level, and a few thousand levels would
/// overflow the stack of whoever reads the definition.
fn check_size(source: &str) -> Result<(), String> {
    let chars = source.chars().count();
    if chars > MAX_EXPR_CHARS {
        return Err(format!(
            "表达式长 {chars} 个字符，最多只能有 {MAX_EXPR_CHARS} 个——请把条件拆到几个步骤中，或改用一个表单字段"
        ));
    }
    let mut depth = 0usize;
    let mut deepest = 0usize;
    // Operators in a row (`!!!!x`, `- - -x`) nest too.
    let mut run = 0usize;
    let mut longest_run = 0usize;
    for c in source.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if matches!(c, '!' | '-' | '+') {
            run += 1;
            longest_run = longest_run.max(run);
        } else if !c.is_whitespace() {
            run = 0;
        }
    }
    if deepest > MAX_EXPR_DEPTH || longest_run > MAX_EXPR_DEPTH {
        return Err(format!(
            "表达式嵌套了 {} 层，最多只能嵌套 {MAX_EXPR_DEPTH} 层",
            deepest.max(longest_run)
        ));
    }
    Ok(())
}

fn compile(source: &str) -> Result<Node<DefaultNumericTypes>, String> {
    check_size(source)?;
    if source.contains('=')
        && !source.contains("==")
        && !source.contains("!=")
        && !source.contains(">=")
        && !source.contains("<=")
    {
        return Err(format!("「{source}」是赋值；比较是否相等请写 `==`"));
    }
    let node = evalexpr::build_operator_tree::<DefaultNumericTypes>(source)
        .map_err(|e| format!("表达式「{source}」有误，{}", reason(&e)))?;
    check_shape(&node).map_err(|what| format!("表达式「{source}」有误，{what}"))?;
    Ok(node)
}

/// Rejects what the parser lets through but evaluation would refuse: an
/// operator missing an operand, assignment, chaining with `;`.
fn check_shape(node: &Node<DefaultNumericTypes>) -> Result<(), String> {
    use evalexpr::Operator as O;
    let want = match node.operator() {
        O::Add
        | O::Sub
        | O::Mul
        | O::Div
        | O::Mod
        | O::Exp
        | O::Eq
        | O::Neq
        | O::Gt
        | O::Lt
        | O::Geq
        | O::Leq
        | O::And
        | O::Or => Some(2),
        O::Neg | O::Not => Some(1),
        O::Assign
        | O::AddAssign
        | O::SubAssign
        | O::MulAssign
        | O::DivAssign
        | O::ModAssign
        | O::ExpAssign
        | O::AndAssign
        | O::OrAssign
        | O::VariableIdentifierWrite { .. } => {
            return Err("不能赋值；比较是否相等请写 `==`".into());
        }
        O::Chain => return Err("不能用「;」，只能写一个表达式".into()),
        _ => None,
    };
    if let Some(n) = want
        && node.children().len() != n
    {
        return Err(format!("运算符「{}」缺少操作数", node.operator()));
    }
    node.children().iter().try_for_each(check_shape)
}

fn explain(source: &str, e: EvalexprError<DefaultNumericTypes>) -> String {
    match e {
        EvalexprError::VariableIdentifierNotFound(v) => {
            format!("「{v}」还没有值（表达式「{source}」）")
        }
        other => format!("计算表达式「{source}」时出错：{}", reason(&other)),
    }
}

/// Why `evalexpr` refused, in words: the parse errors an author makes and
/// the evaluation errors a rule can meet. Rarer ones keep the library's
/// own (English) text.
fn reason(e: &EvalexprError<DefaultNumericTypes>) -> String {
    use EvalexprError as E;
    match e {
        E::UnmatchedLBrace => "缺少右括号「)」".into(),
        E::UnmatchedRBrace => "多了一个右括号「)」".into(),
        E::UnmatchedDoubleQuote => "双引号「\"」没有闭合".into(),
        E::MissingOperatorOutsideOfBrace => "括号前后缺少运算符".into(),
        E::AppendedToLeafNode | E::PrecedenceViolation => "两个值之间缺少运算符".into(),
        E::UnmatchedPartialToken { first, .. } => {
            format!("运算符「{first}」不完整（「并且」写 `&&`，「或者」写 `||`）")
        }
        E::IllegalEscapeSequence(s) => format!("非法的转义序列「{s}」"),
        E::VariableIdentifierNotFound(v) => format!("「{v}」还没有值"),
        E::FunctionIdentifierNotFound(f) => format!("未知的函数「{f}」"),
        E::WrongOperatorArgumentAmount { expected, actual } => {
            format!("运算符需要 {expected} 个操作数，实际有 {actual} 个")
        }
        E::WrongFunctionArgumentAmount { expected, actual } => {
            let want = if expected.start() == expected.end() {
                expected.start().to_string()
            } else {
                format!("{} 到 {}", expected.start(), expected.end())
            };
            format!("函数需要 {want} 个参数，实际有 {actual} 个")
        }
        E::ExpectedString { actual } => format!("应为文本，实际是 {actual}"),
        E::ExpectedInt { actual } => format!("应为整数，实际是 {actual}"),
        E::ExpectedFloat { actual } | E::ExpectedNumber { actual } => {
            format!("应为数字，实际是 {actual}")
        }
        E::ExpectedNumberOrString { actual } => format!("应为数字或文本，实际是 {actual}"),
        E::ExpectedBoolean { actual } => format!("应为真或假，实际是 {actual}"),
        E::ExpectedFixedLengthTuple {
            expected_length,
            actual,
        } => format!("应为 {expected_length} 个参数，实际是 {actual}"),
        E::TypeError { actual, .. } => format!("值的类型不对，实际是 {actual}"),
        E::WrongTypeCombination { operator, .. } => {
            format!("运算符「{operator}」不能用于这些类型的值")
        }
        E::DivisionError { dividend, divisor } | E::ModulationError { dividend, divisor } => {
            format!("{dividend} 除以 {divisor}，除数为零或结果溢出")
        }
        E::AdditionError { .. }
        | E::SubtractionError { .. }
        | E::MultiplicationError { .. }
        | E::NegationError { .. } => "数值超出范围".into(),
        E::OutOfBoundsAccess => "下标超出范围".into(),
        E::CustomMessage(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The values an expression can read: a flat map from dotted names.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    values: BTreeMap<String, serde_json::Value>,
}

impl Scope {
    /// Sets a value.
    pub fn set(&mut self, name: impl Into<String>, value: serde_json::Value) {
        self.values.insert(name.into(), value);
    }

    /// Sets every key of an object under a prefix (`input.` + key).
    pub fn set_all(&mut self, prefix: &str, object: &serde_json::Map<String, serde_json::Value>) {
        for (k, v) in object {
            self.values.insert(format!("{prefix}{k}"), v.clone());
        }
    }

    /// Reads a value.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.values.get(name)
    }

    fn context(&self) -> HashMapContext<DefaultNumericTypes> {
        let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
        for (k, v) in &self.values {
            if let Some(v) = from_json(v) {
                // Identifiers are checked at parse time; a failure here only
                // means the name is not a valid identifier and is skipped.
                let _ = ctx.set_value(k.clone(), v);
            }
        }
        let _ = ctx.set_function(
            "age".into(),
            Function::new(|a| {
                let (birth, on) = two_dates(a)?;
                let mut years = on.year() - birth.year();
                if (on.month(), on.day()) < (birth.month(), birth.day()) {
                    years -= 1;
                }
                Ok(Value::Int(i64::from(years)))
            }),
        );
        let _ = ctx.set_function(
            "days_between".into(),
            Function::new(|a| {
                let (x, y) = two_dates(a)?;
                Ok(Value::Int((y - x).num_days()))
            }),
        );
        let _ = ctx.set_function(
            "months_between".into(),
            Function::new(|a| {
                let (x, y) = two_dates(a)?;
                let mut m = (y.year() - x.year()) * 12 + y.month() as i32 - x.month() as i32;
                if y.day() < x.day() {
                    m -= 1;
                }
                Ok(Value::Int(i64::from(m)))
            }),
        );
        let _ = ctx.set_function(
            "add_months".into(),
            Function::new(|a| {
                let t = a.as_fixed_len_tuple(2)?;
                let d = date_arg(&t[0])?;
                let n = t[1].as_int()?;
                let n = i32::try_from(n)
                    .map_err(|_| EvalexprError::CustomMessage(format!("{n} 个月太多了")))?;
                Ok(Value::String(add_months(d, n).to_string()))
            }),
        );
        let _ = ctx.set_function(
            "len".into(),
            Function::new(|a| match a {
                Value::String(s) => Ok(Value::Int(s.chars().count() as i64)),
                Value::Tuple(t) => Ok(Value::Int(t.len() as i64)),
                _ => Ok(Value::Int(0)),
            }),
        );
        ctx
    }
}

fn date_arg(
    v: &Value<DefaultNumericTypes>,
) -> Result<NaiveDate, EvalexprError<DefaultNumericTypes>> {
    let s = v.as_string()?;
    let s = s.get(..10).unwrap_or(&s).to_string();
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|_| EvalexprError::CustomMessage(format!("「{s}」不是日期（应为 YYYY-MM-DD）")))
}

fn two_dates(
    a: &Value<DefaultNumericTypes>,
) -> Result<(NaiveDate, NaiveDate), EvalexprError<DefaultNumericTypes>> {
    let t = a.as_fixed_len_tuple(2)?;
    Ok((date_arg(&t[0])?, date_arg(&t[1])?))
}

fn from_json(v: &serde_json::Value) -> Option<Value<DefaultNumericTypes>> {
    Some(match v {
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Null => Value::Empty,
        serde_json::Value::Array(a) => Value::Tuple(a.iter().filter_map(from_json).collect()),
        serde_json::Value::Object(_) => return None,
    })
}

fn to_json(v: Value<DefaultNumericTypes>) -> serde_json::Value {
    match v {
        Value::String(s) => serde_json::Value::String(s),
        Value::Float(f) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Int(i) => serde_json::Value::from(i),
        Value::Boolean(b) => serde_json::Value::Bool(b),
        Value::Tuple(t) => serde_json::Value::Array(t.into_iter().map(to_json).collect()),
        Value::Empty => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn age_rule_counts_whole_years() {
        let e = Expr::parse("age(subject.birth_date, step.apply.form.applied_on) >= 18").unwrap();
        let mut s = Scope::default();
        s.set("subject.birth_date", json!("2008-03-03"));
        s.set("step.apply.form.applied_on", json!("2026-03-02"));
        assert!(!e.eval_bool(&s).unwrap());
        s.set("step.apply.form.applied_on", json!("2026-03-03"));
        assert!(e.eval_bool(&s).unwrap());
        assert_eq!(e.variables().len(), 2);
    }

    #[test]
    fn more_than_half_uses_integer_division() {
        let e = Expr::parse("yes > eligible / 2").unwrap();
        let mut s = Scope::default();
        for (eligible, yes, pass) in [(9, 4, false), (9, 5, true), (8, 4, false), (8, 5, true)] {
            s.set("eligible", json!(eligible));
            s.set("yes", json!(yes));
            assert_eq!(e.eval_bool(&s).unwrap(), pass, "{yes} of {eligible}");
        }
    }

    #[test]
    fn rejects_unknown_functions_assignment_and_garbage() {
        assert!(
            Expr::parse("system(1)")
                .unwrap_err()
                .contains("未知的函数「system」")
        );
        assert!(Expr::parse("a = 1").unwrap_err().contains("`==`"));
        assert!(
            Expr::parse("a > 1 &&")
                .unwrap_err()
                .contains("运算符「&&」缺少操作数")
        );
        assert!(Expr::parse("a; b").is_err());
        assert_eq!(
            Expr::parse("(a > 1").unwrap_err(),
            "表达式「(a > 1」有误，缺少右括号「)」"
        );
        assert!(Expr::parse("a & b").unwrap_err().contains("`&&`"));
    }

    #[test]
    fn refuses_what_would_overflow_the_stack() {
        // Run on a small stack, as a server worker would: the refusal must
        // come before any recursion.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = format!("{}1 == 1{}", "(".repeat(4000), ")".repeat(4000));
                assert!(
                    Expr::parse(&deep)
                        .unwrap_err()
                        .contains("最多只能有 500 个")
                );
                let nested = format!("{}1 == 1{}", "(".repeat(17), ")".repeat(17));
                assert!(Expr::parse(&nested).unwrap_err().contains("嵌套了 17 层"));
                let nots = format!("{}true", "!".repeat(40));
                assert!(
                    Expr::parse(&nots)
                        .unwrap_err()
                        .contains("最多只能嵌套 16 层")
                );
                let ok = format!("{}1 == 1{}", "(".repeat(16), ")".repeat(16));
                assert!(Expr::parse(&ok).is_ok());
                let long_chain = vec!["1"; 200].join(" + ");
                assert!(Expr::parse(&format!("{long_chain} > 3")).is_err());
                let chain = vec!["1"; 100].join(" + ");
                assert!(Expr::parse(&format!("{chain} > 3")).is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(Expr::parse("(1 + ").is_err());
        let e = Expr::parse("missing > 1").unwrap();
        assert!(
            e.eval_bool(&Scope::default())
                .unwrap_err()
                .contains("「missing」还没有值")
        );
        let e = Expr::parse("age(subject.birth_date, today) >= 18").unwrap();
        let mut s = Scope::default();
        s.set("subject.birth_date", json!("1990-02-30"));
        s.set("today", json!("2026-03-02"));
        assert_eq!(
            e.eval_bool(&s).unwrap_err(),
            "计算表达式「age(subject.birth_date, today) >= 18」时出错：「1990-02-30」不是日期（应为 YYYY-MM-DD）"
        );
    }
}
