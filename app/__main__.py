"""`python -m app`: serve the API with uvicorn on HOST:PORT."""

import uvicorn

from app.core.config import settings


def main() -> None:
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.HOST,
        port=settings.PORT,
        proxy_headers=True,
        log_level="info",
        access_log=settings.ACCESS_LOG,
    )


if __name__ == "__main__":
    main()
