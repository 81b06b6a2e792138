"""`/products/`: organization-scoped CRUD (see `app.services.catalogue` for the rules)."""

from app.api.catalogue_routes import catalogue_router
from app.models.product import ProductCreate, ProductPublic, ProductsPublic, ProductUpdate
from app.services.catalogue_kinds import PRODUCTS

router = catalogue_router(
    PRODUCTS,
    prefix="/products",
    singular="product",
    plural="products",
    create_schema=ProductCreate,
    update_schema=ProductUpdate,
    public_schema=ProductPublic,
    list_schema=ProductsPublic,
    update_method="PATCH",
)
