{#- Per-person incremental models (docs/incremental.md).

    Profile models whose rows are one person's aggregate of their events are
    incremental on the persons of int_persons_affected: on an incremental run
    their pre-hook deletes the affected persons' rows, and the model's query
    computes those persons again (persons_in_scope), from all their events.
    A person who left the graph (merged into another) is affected and gets no
    new row. On a full build both macros do nothing. -#}

{#- A condition keeping only the affected persons on an incremental run. -#}
{% macro persons_in_scope(column='person_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in (select person_id from {{ ref('int_persons_affected') }})
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The pre-hook of the per-person incremental models. -#}
{% macro delete_affected_persons() -%}
    {{ journey_atc.delete_from_this_where(
        'person_id in (select person_id from ' ~ ref('int_persons_affected') ~ ')'
    ) }}
{%- endmacro %}
