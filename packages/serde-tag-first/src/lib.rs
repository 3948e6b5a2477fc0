//! `#[derive(TagFirstDeserialize)]`: `Deserialize` for an internally tagged enum
//! (`#[serde(tag = "op", rename_all = "snake_case")]`) that reads the tag as the object's
//! first field and then the variant's fields straight from the rest of the object.
//!
//! serde's own derive for such an enum buffers the whole object first (the tag may come
//! anywhere), then reads the variant from the buffer: every type inside a variant, to the
//! bottom, is compiled a second time for the buffer's deserializer. In keygate's Worker
//! that buffering code was 22% of the wasm before wasm-opt (BENCHMARKS.md, "Worker size").
//! The price is the order: the tag must come first, as serde's `Serialize` for the same
//! enum always writes it. keygate reads these enums only from JSON it wrote itself
//! (Durable Object calls and storage), never from a client.
//!
//! Supported: unit, newtype and struct variants; the container attributes `tag` and
//! `rename_all = "snake_case"`; a variant's `rename`; any field attribute (copied to the
//! struct the variant's fields are read into). Anything else is a compile error.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Error, Fields, LitStr};

#[proc_macro_derive(TagFirstDeserialize, attributes(serde))]
pub fn derive_tag_first(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "generics are not supported",
        ));
    }
    let Data::Enum(data) = &input.data else {
        return Err(Error::new_spanned(name, "only enums are supported"));
    };
    let (tag, snake_case) = container_attributes(&input.attrs)?;
    let tag = tag.ok_or_else(|| Error::new_spanned(name, "needs #[serde(tag = \"...\")]"))?;
    let mut names = Vec::new();
    let mut arms = Vec::new();
    for variant in &data.variants {
        let ident = &variant.ident;
        let written = variant_rename(&variant.attrs)?.unwrap_or_else(|| match snake_case {
            true => to_snake_case(&ident.to_string()),
            false => ident.to_string(),
        });
        let arm = match &variant.fields {
            Fields::Unit => quote! {
                #written => {
                    <IgnoredAny as Deserialize>::deserialize(rest)?;
                    Ok(#name::#ident)
                }
            },
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                let ty = &fields.unnamed[0].ty;
                quote! { #written => Ok(#name::#ident(<#ty as Deserialize>::deserialize(rest)?)), }
            }
            Fields::Unnamed(fields) => {
                return Err(Error::new_spanned(
                    fields,
                    "a tuple variant cannot be internally tagged",
                ))
            }
            Fields::Named(fields) => {
                let holder = format_ident!("__{}Fields", ident);
                let field_names: Vec<_> = fields.named.iter().map(|f| &f.ident).collect();
                let declared = fields.named.iter().map(|field| {
                    let serde_attrs = field.attrs.iter().filter(|a| a.path().is_ident("serde"));
                    let (field_name, ty) = (&field.ident, &field.ty);
                    quote! { #(#serde_attrs)* #field_name: #ty, }
                });
                quote! {
                    #written => {
                        #[derive(serde::Deserialize)]
                        struct #holder { #(#declared)* }
                        let #holder { #(#field_names),* } =
                            <#holder as Deserialize>::deserialize(rest)?;
                        Ok(#name::#ident { #(#field_names),* })
                    }
                }
            }
        };
        names.push(written);
        arms.push(arm);
    }
    let expecting = format!("an object whose first field is `{tag}`");
    let not_first = format!("expected `{tag}` as the object's first field");
    Ok(quote! {
        const _: () = {
            use serde::de::value::MapAccessDeserializer;
            use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};

            impl<'de> Deserialize<'de> for #name {
                fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    struct TagFirst;
                    impl<'de> Visitor<'de> for TagFirst {
                        type Value = #name;

                        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                            f.write_str(#expecting)
                        }

                        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<#name, A::Error> {
                            const VARIANTS: &[&str] = &[#(#names),*];
                            match map.next_key::<String>()? {
                                Some(key) if key == #tag => {}
                                _ => return Err(A::Error::custom(#not_first)),
                            }
                            let variant: String = map.next_value()?;
                            let rest = MapAccessDeserializer::new(map);
                            match variant.as_str() {
                                #(#arms)*
                                other => Err(A::Error::unknown_variant(other, VARIANTS)),
                            }
                        }
                    }
                    deserializer.deserialize_map(TagFirst)
                }
            }
        };
    })
}

/// The container's `tag`, and whether `rename_all = "snake_case"` is set.
fn container_attributes(attrs: &[Attribute]) -> syn::Result<(Option<String>, bool)> {
    let mut tag = None;
    let mut snake_case = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("tag") {
                tag = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            } else if meta.path.is_ident("rename_all") {
                let rule = meta.value()?.parse::<LitStr>()?;
                match rule.value().as_str() {
                    "snake_case" => {
                        snake_case = true;
                        Ok(())
                    }
                    _ => Err(Error::new_spanned(rule, "only snake_case is supported")),
                }
            } else {
                Err(meta.error("not supported by TagFirstDeserialize"))
            }
        })?;
    }
    Ok((tag, snake_case))
}

/// A variant's `#[serde(rename = "...")]`.
fn variant_rename(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut rename = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                rename = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            } else {
                Err(meta.error("not supported on a variant by TagFirstDeserialize"))
            }
        })?;
    }
    Ok(rename)
}

/// serde's `snake_case` for a variant name: `RotateWebhookSecret` → `rotate_webhook_secret`.
fn to_snake_case(variant: &str) -> String {
    let mut snake = String::new();
    for (i, ch) in variant.char_indices() {
        if i > 0 && ch.is_uppercase() {
            snake.push('_');
        }
        snake.push(ch.to_ascii_lowercase());
    }
    snake
}
