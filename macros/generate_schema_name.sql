{#- Custom schemas are used as named (staging, intermediate, rules); marts go to the default
    schema, where SPEC §3.1 says its tables live. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
