//! Aggregating ratings into grades, with caps on a grade's share.

use std::collections::BTreeMap;

use crate::model::{Grade, RatingRule, RatingScheme};
use crate::state::RatingValue;

/// Result id for ratees who take part but receive no grade.
pub const NO_GRADE: &str = "no_grade";

/// Turns the ratings of a step into one grade per ratee.
///
/// Scales: the grade most raters chose (a tie goes to the lower grade).
/// Rubrics: the mean score per item over raters, weighted, summed, and
/// mapped to the best grade whose minimum the total reaches. Then caps:
/// when more ratees hold a grade than its `max_share` allows (rounded
/// down, at least one), the ones with the weakest support move down one
/// grade, repeatedly.
pub fn aggregate(
    rule: &RatingRule,
    ratees: &[(String, String)],
    ratings: &BTreeMap<String, BTreeMap<String, RatingValue>>,
) -> BTreeMap<String, String> {
    let mut results = BTreeMap::new();
    let grades: &[Grade] = match &rule.scheme {
        RatingScheme::Scale { grades } | RatingScheme::Rubric { grades, .. } => grades,
    };
    // (ratee, grade index, support: higher is stronger)
    let mut graded: Vec<(String, usize, f64)> = Vec::new();
    for (ratee, role) in ratees {
        if rule.no_grade_roles.iter().any(|r| r == role) {
            results.insert(ratee.clone(), NO_GRADE.to_string());
            continue;
        }
        let given: Vec<&RatingValue> = ratings.values().filter_map(|m| m.get(ratee)).collect();
        if grades.is_empty() {
            continue;
        }
        let (index, support) = match &rule.scheme {
            RatingScheme::Scale { grades } => {
                let mut counts = vec![0u32; grades.len()];
                for v in &given {
                    if let RatingValue::Grade(g) = v
                        && let Some(i) = grades.iter().position(|x| &x.id == g)
                    {
                        counts[i] += 1;
                    }
                }
                // Most votes; ties to the lower (later) grade.
                let mut best = grades.len() - 1;
                for i in (0..grades.len()).rev() {
                    if counts[i] > counts[best] {
                        best = i;
                    }
                }
                let share = if given.is_empty() {
                    0.0
                } else {
                    f64::from(counts[best]) / given.len() as f64
                };
                (best, share)
            }
            RatingScheme::Rubric { items, grades } => {
                let mut total = 0.0;
                for item in items {
                    let scores: Vec<f64> = given
                        .iter()
                        .filter_map(|v| match v {
                            RatingValue::Scores(s) => s.get(&item.id).copied(),
                            RatingValue::Grade(_) => None,
                        })
                        .collect();
                    if !scores.is_empty() {
                        total += item.weight * scores.iter().sum::<f64>() / scores.len() as f64;
                    }
                }
                let index = grades
                    .iter()
                    .position(|g| g.min_score.is_none_or(|m| total >= m - 1e-9))
                    .unwrap_or(grades.len() - 1);
                (index, total)
            }
        };
        graded.push((ratee.clone(), index, support));
    }
    let n = graded.len();
    let last = grades.len().saturating_sub(1);
    for (g, grade) in grades.iter().enumerate().take(last) {
        let Some(share) = grade.max_share else {
            continue;
        };
        let cap = ((share * n as f64) + 1e-9).floor().max(1.0) as usize;
        let mut holders: Vec<usize> = (0..graded.len()).filter(|&i| graded[i].1 == g).collect();
        if holders.len() <= cap {
            continue;
        }
        holders.sort_by(|&a, &b| {
            graded[b]
                .2
                .partial_cmp(&graded[a].2)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(graded[a].0.cmp(&graded[b].0))
        });
        for &i in &holders[cap..] {
            graded[i].1 = g + 1;
        }
    }
    for (ratee, index, _) in graded {
        results.insert(ratee, grades[index].id.clone());
    }
    results
}
