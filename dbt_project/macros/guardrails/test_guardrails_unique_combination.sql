{#- Generic test: no two rows share the same values in all the columns.
      data_tests:
        - journey_atc.guardrails_unique_combination:
            arguments:
              columns: ["region", "holiday_date"] -#}
{% test guardrails_unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
