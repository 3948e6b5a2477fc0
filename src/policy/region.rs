//! The requests a route matches, as sets that can be intersected and subtracted: what lets
//! `keygate policy check` tell which requests each route really gets (the first match
//! wins), and `keygate policy diff` which requests change the scope they need.
//!
//! A request is a method and its path's segments. A route's set is a union of *cubes*: a
//! set of methods, times one set of strings per segment, for paths of exactly `n` segments
//! or (for routes ending in `*`) of more segments than any route spells out. A set of
//! strings is finite ("only these") or cofinite ("all but these"), so the difference of two
//! cubes is again a union of cubes and every question here has an exact answer.
//!
//! Only requests that get past the request rules count ([`crate::ambiguity::check_request`]):
//! a method keygate forwards, and no empty segment but the last (`//` is refused as
//! `path_ambiguous`). A route whose own literal text the request rules refuse (a `;`, an
//! encoded `/`, …) matches nothing.

use super::routes::{MethodPattern, Route, Segment};
use crate::ambiguity::path_ambiguity;
use crate::methods::FORWARDABLE_METHODS;
use std::collections::BTreeSet;

/// The most cubes one region may be split into. Overlapping patterns can multiply pieces;
/// past this the analysis stops rather than take unbounded time on a huge policy.
const MAX_PIECES: usize = 4096;

/// The analysis would need more than [`MAX_PIECES`] pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooComplex;

/// A set of segment strings.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Strings {
    Only(BTreeSet<String>),
    AllBut(BTreeSet<String>),
}

impl Strings {
    fn any() -> Strings {
        Strings::AllBut(BTreeSet::new())
    }

    /// What one segment of a pattern matches; `None` for the final `*`, which is no segment.
    fn of(segment: &Segment) -> Option<Strings> {
        match segment {
            Segment::Literal(text) => Some(Strings::Only(BTreeSet::from([text.clone()]))),
            // `{name}` matches one non-empty segment.
            Segment::Param => Some(Strings::AllBut(BTreeSet::from([String::new()]))),
            Segment::Rest => None,
        }
    }

    fn intersect(&self, other: &Strings) -> Strings {
        match (self, other) {
            (Strings::Only(a), Strings::Only(b)) => Strings::Only(a & b),
            (Strings::Only(a), Strings::AllBut(b)) | (Strings::AllBut(b), Strings::Only(a)) => {
                Strings::Only(a - b)
            }
            (Strings::AllBut(a), Strings::AllBut(b)) => Strings::AllBut(a | b),
        }
    }

    fn minus(&self, other: &Strings) -> Strings {
        match (self, other) {
            (Strings::Only(a), Strings::Only(b)) => Strings::Only(a - b),
            (Strings::Only(a), Strings::AllBut(b)) => Strings::Only(a & b),
            (Strings::AllBut(a), Strings::Only(b)) => Strings::AllBut(a | b),
            (Strings::AllBut(a), Strings::AllBut(b)) => Strings::Only(b - a),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Strings::Only(set) if set.is_empty())
    }

    /// Whether the two sets share a member (a non-empty one, if `non_empty`), without
    /// building the intersection.
    fn overlaps(&self, other: &Strings, non_empty: bool) -> bool {
        let fits = |s: &String| !non_empty || !s.is_empty();
        match (self, other) {
            (Strings::Only(a), Strings::Only(b)) => a.iter().any(|s| fits(s) && b.contains(s)),
            (Strings::Only(a), Strings::AllBut(b)) | (Strings::AllBut(b), Strings::Only(a)) => {
                a.iter().any(|s| fits(s) && !b.contains(s))
            }
            // Both leave out finitely many of infinitely many strings.
            (Strings::AllBut(_), Strings::AllBut(_)) => true,
        }
    }

    /// Whether the set holds a segment that may stand before another (not empty).
    fn has_non_empty(&self) -> bool {
        match self {
            Strings::Only(set) => set.iter().any(|s| !s.is_empty()),
            Strings::AllBut(_) => true,
        }
    }

    /// One member, non-empty unless `may_be_empty` and the set holds nothing else.
    fn example(&self, may_be_empty: bool) -> Option<String> {
        match self {
            Strings::Only(set) => set
                .iter()
                .find(|s| !s.is_empty())
                .or_else(|| set.iter().find(|_| may_be_empty))
                .cloned(),
            Strings::AllBut(excluded) => (1..=excluded.len() + 1)
                .map(|n| {
                    if n == 1 {
                        "x".to_string()
                    } else {
                        format!("x{n}")
                    }
                })
                .find(|candidate| !excluded.contains(candidate)),
        }
    }
}

/// How many segments a cube's paths have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Length {
    Exactly(usize),
    /// More than the space's depth; the cube constrains the first `depth` segments.
    Beyond,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cube {
    /// Bits by index into [`FORWARDABLE_METHODS`].
    methods: u8,
    length: Length,
    segments: Vec<Strings>,
}

impl Cube {
    /// Whether some request the request rules let through is in the cube.
    fn is_inhabited(&self) -> bool {
        let last = match self.length {
            Length::Exactly(n) => n.checked_sub(1),
            Length::Beyond => None,
        };
        self.methods != 0
            && self.segments.iter().enumerate().all(|(i, s)| {
                if Some(i) == last {
                    !s.is_empty()
                } else {
                    s.has_non_empty()
                }
            })
    }

    /// Whether [`Cube::intersect`] would find a request, without building it.
    fn overlaps(&self, other: &Cube) -> bool {
        let last = match self.length {
            Length::Exactly(n) => n.checked_sub(1),
            Length::Beyond => None,
        };
        self.length == other.length
            && self.methods & other.methods != 0
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .enumerate()
                .all(|(i, (a, b))| a.overlaps(b, Some(i) != last))
    }

    fn intersect(&self, other: &Cube) -> Option<Cube> {
        if !self.overlaps(other) {
            return None;
        }
        let cube = Cube {
            methods: self.methods & other.methods,
            length: self.length,
            segments: self
                .segments
                .iter()
                .zip(&other.segments)
                .map(|(a, b)| a.intersect(b))
                .collect(),
        };
        cube.is_inhabited().then_some(cube)
    }

    /// `self` without `other`, as disjoint inhabited cubes.
    fn minus(self, other: &Cube, out: &mut Vec<Cube>) {
        if !self.overlaps(other) {
            out.push(self);
            return;
        }
        let mut keep = |cube: Cube| {
            if cube.is_inhabited() {
                out.push(cube);
            }
        };
        // Peel off one coordinate at a time: outside `other` there, inside it before.
        let outside_methods = self.methods & !other.methods;
        let mut inside = self;
        if outside_methods != 0 {
            keep(Cube {
                methods: outside_methods,
                ..inside.clone()
            });
        }
        inside.methods &= other.methods;
        for (i, theirs) in other.segments.iter().enumerate() {
            let Some(ours) = inside.segments.get(i) else {
                return;
            };
            let (outside_here, inside_here) = (ours.minus(theirs), ours.intersect(theirs));
            if !outside_here.is_empty() {
                let mut outside = inside.clone();
                if let Some(slot) = outside.segments.get_mut(i) {
                    *slot = outside_here;
                }
                keep(outside);
            }
            if let Some(slot) = inside.segments.get_mut(i) {
                *slot = inside_here;
            }
            if !inside.is_inhabited() {
                return;
            }
        }
        // What is left of `inside` lies in `other`: gone.
    }
}

/// A set of requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Region {
    cubes: Vec<Cube>,
}

/// One request, to show what a finding is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl Region {
    pub fn is_empty(&self) -> bool {
        self.cubes.is_empty()
    }

    pub fn intersect(&self, other: &Region) -> Result<Region, TooComplex> {
        let mut cubes = Vec::new();
        for a in &self.cubes {
            for b in &other.cubes {
                if let Some(cube) = a.intersect(b) {
                    cubes.push(cube);
                    if cubes.len() > MAX_PIECES {
                        return Err(TooComplex);
                    }
                }
            }
        }
        Ok(Region { cubes })
    }

    /// Whether the two regions share a request.
    pub fn overlaps(&self, other: &Region) -> bool {
        self.cubes
            .iter()
            .any(|a| other.cubes.iter().any(|b| a.overlaps(b)))
    }

    pub fn minus(&self, other: &Region) -> Result<Region, TooComplex> {
        self.clone().without(other)
    }

    /// [`Region::minus`], reusing `self`'s pieces.
    pub fn without(self, other: &Region) -> Result<Region, TooComplex> {
        let mut cubes = self.cubes;
        for theirs in &other.cubes {
            let mut next = Vec::with_capacity(cubes.len());
            for ours in cubes {
                ours.minus(theirs, &mut next);
                if next.len() > MAX_PIECES {
                    return Err(TooComplex);
                }
            }
            cubes = next;
            if cubes.is_empty() {
                break;
            }
        }
        Ok(Region { cubes })
    }

    pub fn is_subset_of(&self, other: &Region) -> Result<bool, TooComplex> {
        Ok(self.minus(other)?.is_empty())
    }

    /// A request in the region: the shortest path, with `preferred` as the method when it
    /// is one of the region's (so a `GET` route's example is not a `HEAD`).
    pub fn example(&self, preferred: &str) -> Option<Request> {
        let cube = self
            .cubes
            .iter()
            .min_by_key(|cube| (cube.length, cube.segments.len()))?;
        let methods: Vec<&'static str> = FORWARDABLE_METHODS
            .iter()
            .enumerate()
            .filter(|(i, _)| cube.methods & (1 << i) != 0)
            .map(|(_, method)| *method)
            .collect();
        let method = methods
            .iter()
            .find(|m| **m == preferred)
            .or_else(|| methods.first())?;
        let last = cube.segments.len().checked_sub(1);
        let mut segments = cube
            .segments
            .iter()
            .enumerate()
            .map(|(i, strings)| strings.example(cube.length != Length::Beyond && Some(i) == last))
            .collect::<Option<Vec<String>>>()?;
        if cube.length == Length::Beyond {
            segments.push("x".to_string());
        }
        Some(Request {
            method,
            path: format!("/{}", segments.join("/")),
        })
    }
}

/// The requests routes are judged over: deep enough that every route's pattern is spelled
/// out, so paths longer than `depth` differ only in which `*` routes take them.
#[derive(Clone, Copy, Debug)]
pub struct Space {
    depth: usize,
}

impl Space {
    pub fn for_routes<'a>(routes: impl IntoIterator<Item = &'a Route>) -> Space {
        let depth = routes
            .into_iter()
            .map(|route| {
                route
                    .segments
                    .iter()
                    .filter(|s| !matches!(s, Segment::Rest))
                    .count()
            })
            .max()
            .unwrap_or(0)
            .max(1);
        Space { depth }
    }

    /// Every request `route` matches and the request rules let through.
    pub fn region(&self, route: &Route) -> Region {
        let methods = method_bits(&route.method);
        if refused_path(route).is_some() {
            return Region::default();
        }
        let open = matches!(route.segments.last(), Some(Segment::Rest));
        let fixed: Vec<Strings> = route.segments.iter().filter_map(Strings::of).collect();
        let padded = |n: usize| {
            let mut segments = fixed.clone();
            segments.resize(n.max(fixed.len()), Strings::any());
            segments
        };
        let mut cubes = Vec::new();
        if open {
            for n in fixed.len().max(1)..=self.depth {
                cubes.push(Cube {
                    methods,
                    length: Length::Exactly(n),
                    segments: padded(n),
                });
            }
            cubes.push(Cube {
                methods,
                length: Length::Beyond,
                segments: padded(self.depth),
            });
        } else if fixed.len() <= self.depth {
            cubes.push(Cube {
                methods,
                length: Length::Exactly(fixed.len()),
                segments: fixed.clone(),
            });
        }
        cubes.retain(Cube::is_inhabited);
        Region { cubes }
    }

    /// What each route really gets, in file order: its own requests less those an earlier
    /// route takes first.
    pub fn reached(&self, routes: &[Route]) -> Result<Vec<Region>, TooComplex> {
        let matched: Vec<Region> = routes.iter().map(|route| self.region(route)).collect();
        let mut reached = Vec::with_capacity(routes.len());
        for (position, own) in matched.iter().enumerate() {
            let mut left = own.clone();
            for earlier in matched.iter().take(position) {
                if left.is_empty() {
                    break;
                }
                if left.overlaps(earlier) {
                    left = left.without(earlier)?;
                }
            }
            reached.push(left);
        }
        Ok(reached)
    }
}

fn method_bit(method: &str) -> u8 {
    FORWARDABLE_METHODS
        .iter()
        .position(|m| *m == method)
        .map_or(0, |i| 1 << i)
}

/// HEAD is matched by a GET route, as [`MethodPattern::matches`] does.
fn method_bits(pattern: &MethodPattern) -> u8 {
    match pattern {
        MethodPattern::Any => FORWARDABLE_METHODS
            .iter()
            .fold(0, |bits, m| bits | method_bit(m)),
        MethodPattern::Exact(method) if method == "GET" => method_bit("GET") | method_bit("HEAD"),
        MethodPattern::Exact(method) => method_bit(method),
    }
}

/// Why the request rules refuse every path `route` matches, if they do: its literal text
/// holds what [`path_ambiguity`] refuses. Parameters and `*` can always be filled cleanly.
pub fn refused_path(route: &Route) -> Option<&'static str> {
    let filled: Vec<&str> = route
        .segments
        .iter()
        .filter_map(|segment| match segment {
            Segment::Literal(text) => Some(text.as_str()),
            Segment::Param => Some("x"),
            Segment::Rest => None,
        })
        .collect();
    path_ambiguity(&format!("/{}", filled.join("/")))
}

/// Whether the request rules refuse every request for `method` before routing.
pub fn refused_method(pattern: &MethodPattern) -> bool {
    method_bits(pattern) == 0
}
