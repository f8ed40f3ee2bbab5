//! A type change with up/down expressions, and one column split into two,
//! under load through the real binary (issue 17). No request fails; every
//! row reads right through both shapes before contract and the new one after.

mod util;

use util::schema_app::Shape;
use util::schema_rows::connect_as;
use util::schema_scenario::Site;

#[test]
fn change_type_with_up_and_down_under_load() {
    let site = Site::start(Shape::V1Tags);
    let (v2, _, outcome) = site.expand_under_load(Shape::TagsArray, &[]);
    site.assert_both_shapes(&v2, Shape::TagsArray, &outcome.rows, "before contract");
    site.contract_under_load(&v2, Shape::TagsArray, &outcome.rows);
    let kind: String = connect_as(&site.postgres.url, "public")
        .query_one(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'tags'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kind, "ARRAY");
}

#[test]
fn split_one_column_into_two_under_load() {
    let site = Site::start(Shape::V1);
    let (v2, _, outcome) = site.expand_under_load(Shape::Split, &[]);
    site.assert_both_shapes(&v2, Shape::Split, &outcome.rows, "before contract");
    site.contract_under_load(&v2, Shape::Split, &outcome.rows);
}
